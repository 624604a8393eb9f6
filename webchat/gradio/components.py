"""Gradio's components, as far as webchat's chat pages use them.

Input components (Textbox, Slider, Number, Checkbox, Dropdown, Radio) render as form controls and
turn the posted form value into the Python value Gradio would pass to a function. The others
(Markdown, Chatbot, Button, ClearButton, State) and the layouts (Row, Column, Accordion) are for
the Blocks runtime in :mod:`webchat.gradio.blocks`. Display options that make no sense here
(``scale``, ``container``, ``elem_classes``...) are accepted and ignored; anything that would
change behaviour and is not supported raises :class:`UnsupportedError` when the program builds.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from webchat.chat import ChatFunctionError, to_messages
from webchat.errors import InputError, UnsupportedError
from webchat.gradio import context
from webchat.gradio.events import Dependency, listen
from webchat.gradio.reasoning import tags_of
from webchat.messages import ChatMessage, MessageError, messages_from_list
from webchat.web.page import MessageLook

__all__ = ["InputError", "UnsupportedError"]  # raised by the components; re-exported for programs

_ids = itertools.count(1)
log = logging.getLogger("webchat")

# Gradio's event listeners that webchat runs on any component (``Textbox.submit``,
# ``Button.click`` and ``Chatbot.like`` are methods of their own), and the ones it refuses, with why.
EVENTS = frozenset(
    {
        "change",
        "input",
        "select",
        "submit",
        "blur",
        "release",
        "upload",
    }
)
REFUSED_EVENTS = {
    "focus": "the page sends nothing when a field gets focus",
    "key_up": "the page sends nothing per key press",
    "double_click": "the page sends nothing on a double click",
    "copy": "copying happens in the browser alone",
    "stop": "Stop ends the reply in webchat; it runs no handler",
    "delete": "files are removed from the composer in the browser",
    "play": "media play in the browser alone",
    "pause": "media play in the browser alone",
    "stream": "webchat takes recorded files, not live streams",
}
# The Chatbot's own events (methods of gr.Chatbot), with the event data their handlers get.
CHATBOT_EVENTS = frozenset({"retry", "undo", "edit", "clear", "option_select", "example_select"})
GRADIO_EVENTS = EVENTS | CHATBOT_EVENTS | frozenset(REFUSED_EVENTS)
# What gr.update(...) (or a component returned by a handler) may change of a component.
UPDATABLE = frozenset(
    {
        "value",
        "visible",
        "interactive",
        "label",
        "info",
        "placeholder",
        "choices",
        "minimum",
        "maximum",
        "step",
        "lines",
        "language",
        "variant",
        "open",
    }
)


class _Recorded(type):
    """Remembers the arguments a component was made with: a handler that returns
    ``gr.Textbox(visible=False)`` updates only what it names, as in Gradio."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        made = super().__call__(*args, **kwargs)
        try:
            bound = inspect.signature(cls.__init__).bind_partial(made, *args, **kwargs)
        except TypeError:
            given: dict[str, Any] = dict(kwargs)
        else:
            given = {k: v for k, v in bound.arguments.items() if k not in ("self", "options", "display")}
            given.update(bound.arguments.get("options", {}) or {})
            given.update(bound.arguments.get("display", {}) or {})
        made.given = given
        return made


class Component(context.Block, metaclass=_Recorded):
    """A Gradio component: an id, a value, a label, and its place in a Blocks layout.

    ``given`` holds the arguments it was made with (see :class:`_Recorded`); :meth:`updated` is a
    copy with some of them changed (what an event's output draws).
    """

    kind: ClassVar[str] = "component"
    given: dict[str, Any]
    changed: frozenset[str] = frozenset()  # of a copy made by updated(): what it changes

    def __init__(
        self,
        value: Any = None,
        *,
        label: str | None = None,
        info: str | None = None,
        visible: bool | str = True,
        render: bool = True,
        elem_id: str | None = None,
        interactive: bool | None = None,
        **display: Any,
    ) -> None:
        self.id = next(_ids)
        self.interactive = interactive
        if callable(value):
            raise UnsupportedError(
                f"gr.{type(self).__name__}(value=<function>) is not supported by webchat: "
                "pass the value itself"
            )
        self.value = value
        self.label = label
        self.info = info
        self.visible = visible is True
        self.elem_id = elem_id
        self.display = display  # accepted for compatibility, not used
        self.blocks: Any = None
        if render:
            self.render()

    def render(self) -> Component:
        """Place the component in the Blocks being built (Gradio's ``render()``)."""
        container = context.current_container()
        if container is not None and self.blocks is None:
            container.add(self)
        return self

    def unrender(self) -> Component:
        if self.blocks is not None:
            self.blocks.remove(self)
        return self

    @property
    def name(self) -> str:
        """The form field that carries this component's value."""
        return f"c{self.id}"

    @property
    def is_rendered(self) -> bool:
        return self.blocks is not None

    @property
    def editable(self) -> bool:
        """Does the user set this component's value in the page?"""
        return self.interactive is not False

    def updated(self, changes: Mapping[str, Any]) -> Component:
        """A copy showing ``changes`` (gr.update's names), for drawing an event's output."""
        shown = copy.copy(self)
        shown.changed = frozenset(changes)
        for name, value in changes.items():
            if name == "value":
                shown.value = value  # already as the component holds it (runtime.assign)
            elif name == "choices":
                shown.choices = _choices(value)  # type: ignore[attr-defined]
            elif name == "visible":
                shown.visible = value is True
            else:
                setattr(shown, name, value)
        return shown

    def postprocess(self, value: Any) -> Any:
        """A handler's value for this component as the component holds it; ValueError if it cannot."""
        return value

    def __getattr__(self, name: str) -> Any:
        if name in EVENTS:

            def listener(
                fn: Callable[..., Any] | None = None, inputs: Any = None, outputs: Any = None, **options: Any
            ) -> Dependency:
                return listen(self, name, fn, inputs, outputs, options=options)

            return listener
        if name in REFUSED_EVENTS:
            raise UnsupportedError(
                f"gr.{type(self).__name__}.{name}() is not supported by webchat: {REFUSED_EVENTS[name]}"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"gr.{type(self).__name__}(id={self.id}, label={self.label!r})"

    def _listen(
        self, event: str, fn: Callable[..., Any] | None, inputs: Any, outputs: Any, **options: Any
    ) -> Dependency:
        return listen(self, event, fn, inputs, outputs, options=options)


class FormComponent(Component):
    """A component whose value the user sets in the page and posts with the composer form."""

    kind = "input"

    def parse(self, form: Any, name: str) -> Any:
        """The value Gradio would pass to a function, from the posted form; InputError if invalid."""
        raise NotImplementedError

    def default(self) -> Any:
        """What a function gets when nobody touched the control (or for a caller without a form)."""
        return self.value

    def what(self) -> str:
        return self.label or type(self).__name__


class Textbox(FormComponent):
    kind = "textbox"

    def __init__(
        self,
        value: str | None = "",
        *,
        type: str = "text",
        lines: int = 1,
        max_lines: int | None = None,
        placeholder: str | None = None,
        max_length: int | None = None,
        submit_btn: str | bool | None = False,
        stop_btn: str | bool | None = False,
        autofocus: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(value if callable(value) or value is None else str(value), **options)
        self.value = self.value or ""
        self.type = type if type in ("text", "password", "email") else "text"
        self.lines = max(1, int(lines))
        self.max_lines = max_lines
        self.placeholder = placeholder
        self.max_length = max_length
        self.submit_btn = submit_btn
        self.stop_btn = stop_btn
        self.autofocus = autofocus

    def postprocess(self, value: Any) -> str:
        if isinstance(value, Mapping):  # a MultimodalTextbox's {"text", "files"}
            value = value.get("text")
        return "" if value is None else str(value)

    def parse(self, form: Any, name: str) -> str:
        text = str(form.get(name, ""))
        if self.max_length is not None and len(text) > self.max_length:
            raise InputError(f"{self.what()}: at most {self.max_length:,} characters, not {len(text):,}.")
        return text

    def submit(
        self, fn: Callable[..., Any] | None, inputs: Any = None, outputs: Any = None, **options: Any
    ) -> Dependency:
        """Run ``fn`` when the user presses Enter (Gradio's ``Textbox.submit``)."""
        return self._listen("submit", fn, inputs, outputs, **options)


class MultimodalTextbox(Textbox):
    """Gradio's text-and-files box: for ``ChatInterface(multimodal=True, textbox=...)``."""

    kind = "textbox"

    def __init__(
        self,
        value: Any = None,
        *,
        file_types: list[str] | None = None,
        file_count: str = "single",
        sources: list[str] | None = None,
        **options: Any,
    ) -> None:
        text = value.get("text", "") if isinstance(value, Mapping) else value
        super().__init__(text, **options)
        self.file_types = file_types
        self.file_count = file_count


def _number(raw: Any, what: str) -> float:
    text = str(raw).strip()
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{what}: {text[:40]!r} is not a number.") from None
    if not math.isfinite(number):
        raise InputError(f"{what}: {text[:40]!r} is not a finite number.")
    return number


def _json_number(number: float, precision: int | None) -> float | int:
    """The number as Gradio passes it: rounded to ``precision`` (int for 0), otherwise as JSON
    would carry it from the browser (a whole number is an int)."""
    if precision == 0:
        return round(number)
    if precision is not None:
        return round(number, precision)
    return int(number) if number.is_integer() else number


def _check_range(number: float, minimum: float | None, maximum: float | None, what: str) -> None:
    if minimum is not None and number < minimum:
        raise InputError(f"{what}: {number:g} is less than the minimum, {minimum:g}.")
    if maximum is not None and number > maximum:
        raise InputError(f"{what}: {number:g} is more than the maximum, {maximum:g}.")


class Slider(FormComponent):
    kind = "slider"

    def __init__(
        self,
        minimum: float = 0,
        maximum: float = 100,
        value: float | None = None,
        *,
        step: float | None = None,
        precision: int | None = None,
        randomize: bool = False,
        **options: Any,
    ) -> None:
        if minimum >= maximum:
            raise ValueError("Slider minimum must be less than maximum.")
        super().__init__(minimum if value is None else value, **options)
        self.minimum = minimum
        self.maximum = maximum
        self.step = step if step is not None else 10 ** math.floor(math.log10(maximum - minimum) - 2)
        self.precision = precision

    def parse(self, form: Any, name: str) -> float | int:
        number = _number(form.get(name, self.value), self.what())
        _check_range(number, self.minimum, self.maximum, self.what())
        return _json_number(number, self.precision)

    def default(self) -> float | int:
        return _json_number(float(self.value), self.precision)


class Number(FormComponent):
    kind = "number"

    def __init__(
        self,
        value: float | None = None,
        *,
        precision: int | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        step: float = 1,
        placeholder: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(value, **options)
        self.precision = precision
        self.minimum = minimum
        self.maximum = maximum
        self.step = step
        self.placeholder = placeholder

    def default(self) -> float | int | None:
        return None if self.value is None else _json_number(float(self.value), self.precision)

    def parse(self, form: Any, name: str) -> float | int | None:
        raw = str(form.get(name, "")).strip()
        if not raw:
            return None
        number = _number(raw, self.what())
        _check_range(number, self.minimum, self.maximum, self.what())
        return _json_number(number, self.precision)


class Checkbox(FormComponent):
    kind = "checkbox"

    def __init__(self, value: bool = False, **options: Any) -> None:
        super().__init__(bool(value), **options)

    def parse(self, form: Any, name: str) -> bool:
        # An unchecked box is not posted; the hidden "present" field tells "unchecked" from "absent".
        if f"{name}-present" not in form:
            return bool(self.value)
        return name in form


Choice = tuple[str, Any]


def _choices(choices: Sequence[Any] | None) -> list[Choice]:
    """Gradio's choices: values, or (label, value) pairs."""
    result: list[Choice] = []
    for choice in choices or []:
        if isinstance(choice, tuple | list) and len(choice) == 2:
            result.append((str(choice[0]), choice[1]))
        else:
            result.append((str(choice), choice))
    return result


class _Choices(FormComponent):
    """Shared by Dropdown and Radio: the form carries the chosen index, so values of any type
    (numbers too) come back exactly as given."""

    def __init__(self, choices: Sequence[Any] | None, value: Any, type: str, **options: Any) -> None:
        if type not in ("value", "index"):
            raise ValueError(f"Invalid value for parameter `type`: {type}. Please choose from: value, index")
        super().__init__(value, **options)
        self.choices = _choices(choices)
        self.type = type

    @property
    def values(self) -> list[Any]:
        return [value for _, value in self.choices]

    def default(self) -> Any:
        if self.type == "value":
            return self.value
        if isinstance(self.value, list):
            return [self.values.index(v) for v in self.value if v in self.values]
        return self.values.index(self.value) if self.value in self.values else None

    def chosen(self, value: Any) -> bool:
        if isinstance(self.value, list):
            return value in self.value
        return value == self.value

    def _pick(self, raw: str) -> Any:
        try:
            index = int(raw)
        except ValueError:
            index = -1
        if not 0 <= index < len(self.choices):
            raise InputError(f"{self.what()}: that is not one of the choices.")
        return index if self.type == "index" else self.choices[index][1]


class Dropdown(_Choices):
    kind = "dropdown"

    def __init__(
        self,
        choices: Sequence[Any] | None = None,
        value: Any = ...,
        *,
        type: str = "value",
        multiselect: bool | None = None,
        allow_custom_value: bool = False,
        max_choices: int | None = None,
        **options: Any,
    ) -> None:
        first = _choices(choices)
        if value is ...:
            value = [] if multiselect else (first[0][1] if first else None)
        if multiselect and not isinstance(value, list):
            value = [] if value is None else [value]
        super().__init__(choices, value, type, **options)
        self.multiselect = bool(multiselect)
        self.allow_custom_value = allow_custom_value
        self.max_choices = max_choices

    def parse(self, form: Any, name: str) -> Any:
        if self.multiselect:
            picked = [self._pick(raw) for raw in form.getlist(name)]
            if self.max_choices is not None and len(picked) > self.max_choices:
                raise InputError(f"{self.what()}: choose at most {self.max_choices}.")
            return picked
        raw = str(form.get(name, ""))
        if self.allow_custom_value:
            # A free text field: a choice's label means that choice, anything else is itself.
            for index, (label, value) in enumerate(self.choices):
                if raw == label:
                    return index if self.type == "index" else value
            return None if self.type == "index" else raw
        if raw == "":
            return None
        return self._pick(raw)


class Radio(_Choices):
    kind = "radio"

    def __init__(
        self, choices: Sequence[Any] | None = None, value: Any = None, *, type: str = "value", **options: Any
    ) -> None:
        super().__init__(choices, value, type, **options)

    def parse(self, form: Any, name: str) -> Any:
        raw = form.get(name)
        return None if raw is None else self._pick(str(raw))


class State(Component):
    """A value kept on the server between events; never shown."""

    kind = "state"

    def __init__(self, value: Any = None, *, render: bool = True, **_options: Any) -> None:
        super().__init__(copy.deepcopy(value), render=render)

    def initial(self) -> Any:
        return copy.deepcopy(self.value)


class Markdown(Component):
    """Markdown (with the layout HTML Gradio allows in it), sanitised as messages are."""

    kind = "markdown"

    def __init__(self, value: str = "", **options: Any) -> None:
        super().__init__(value if callable(value) else str(value or ""), **options)

    def postprocess(self, value: Any) -> str:
        return "" if value is None else str(value)


class HTML(Markdown):
    """A program's HTML, sanitised as messages are (no scripts, styles or forms)."""

    kind = "html"


class Code(Component):
    """Read-only source code, highlighted on the server."""

    kind = "code"

    def __init__(self, value: str | None = None, language: str | None = None, **options: Any) -> None:
        super().__init__(value, **options)
        self.language = language

    def postprocess(self, value: Any) -> str | None:
        if isinstance(value, tuple):  # Gradio takes (path,) for a file's contents
            value = Path(str(value[0])).read_text(errors="replace")
        return None if value is None else str(value)


class JSON(Component):
    """A value shown as indented JSON (read-only)."""

    kind = "json"

    def __init__(self, value: Any = None, **options: Any) -> None:
        super().__init__(value, **options)

    def postprocess(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        json.dumps(value, default=str)  # ValueError (a cycle) now, not when drawn
        return value

    @property
    def text(self) -> str:
        return json.dumps(self.value, indent=2, ensure_ascii=False, default=str)


class MediaComponent(FormComponent):
    """Image, Audio, Video and File in a layout: a file the user uploads (an input) or a handler
    gives (an output). The value a handler gets is the file's path on the server, as in Gradio
    (``type="filepath"``); an output may be a path, an http(s) URL, a FileData dict or a media
    helper (``gr.Image(pil_image)`` in a reply). The web layer stores an output's file for the
    page's owner (:meth:`files`) before it is drawn."""

    kind = "file"
    media: ClassVar[str] = "file"

    def __init__(self, value: Any = None, *, type: str = "filepath", file_types: Any = None, **options: Any):
        if type not in ("filepath", "file", "binary"):
            raise UnsupportedError(
                f"gr.{self.__class__.__name__}(type={type!r}) is not supported by webchat: handlers get "
                "the file's path (type='filepath')"
            )
        options.pop("sources", None)
        super().__init__(None, **options)
        self.value = self.postprocess(value) if value is not None else None
        self.file_types = file_types

    def postprocess(self, value: Any) -> Any:
        if value is None:
            return None
        if hasattr(value, "file"):  # webchat's media helpers: Image(pil_image), Audio((rate, data))
            return dict(value.file())
        if isinstance(value, tuple) and value:
            value = value[0]
        if isinstance(value, Mapping):
            return {"path": str(value.get("path") or value.get("url") or ""), **dict(value)}
        if isinstance(value, str | Path):
            return {"path": str(value), "orig_name": Path(str(value)).name}
        raise ValueError(f"gr.{type(self).__name__} takes a file path, not {type(value).__name__}")

    def parse(self, form: Any, name: str) -> str | None:
        """The uploaded file's server path, set by the web layer under ``name`` (None: no file)."""
        value = form.get(name)
        return str(value) if value else None

    def default(self) -> str | None:
        return self.value.get("path") if isinstance(self.value, Mapping) else None


class Image(MediaComponent):
    kind = "image"
    media = "image"


class Audio(MediaComponent):
    kind = "audio"
    media = "audio"


class Video(MediaComponent):
    kind = "video"
    media = "video"


class File(MediaComponent):
    kind = "file"
    media = "file"


class DownloadButton(MediaComponent):
    """A link that downloads its file (``value``); a click event runs its handlers too."""

    kind = "download"

    def __init__(self, label: str = "Download", value: Any = None, **options: Any) -> None:
        super().__init__(value, **options)
        self.label = label

    def click(
        self, fn: Callable[..., Any] | None, inputs: Any = None, outputs: Any = None, **_options: Any
    ) -> Dependency:
        return self._listen("click", fn, inputs, outputs)


def avatar_paths(images: tuple[Any, Any] | None) -> tuple[str | None, str | None]:
    """Gradio's ``avatar_images=(user, assistant)`` as local files webchat serves itself (the
    page loads nothing from other sites, so a URL cannot be shown and is refused here)."""
    if images is None:
        return (None, None)
    if not isinstance(images, list | tuple) or len(images) != 2:
        raise ValueError("avatar_images takes two images: (user, assistant); either may be None")
    paths: list[str | None] = []
    for image in images:
        if image is None:
            paths.append(None)
            continue
        path = Path(str(image)).expanduser()
        if str(image).startswith(("http://", "https://")):
            # The page loads nothing from other sites, and a program should not wait on one to start.
            log.warning(
                "avatar image %s is a link: webchat shows only local avatar files, so none here", image
            )
            paths.append(None)
            continue
        if str(image).startswith("data:") or not path.is_file():
            raise ValueError(
                f"avatar image {image!r} is not a local image file: webchat serves avatars itself, "
                "so give a path on this machine"
            )
        paths.append(str(path.resolve()))
    return (paths[0], paths[1])


def _listener(kind: str, doc: str) -> Callable[..., Dependency]:
    """A listener method of a component's own event (``chatbot.retry(fn, inputs, outputs)``)."""

    def listener(
        self: Component,
        fn: Callable[..., Any] | None = None,
        inputs: Any = None,
        outputs: Any = None,
        **options: Any,
    ) -> Dependency:
        return self._listen(kind, fn, inputs, outputs, **options)

    listener.__name__ = listener.__qualname__ = kind
    listener.__doc__ = doc
    return listener


class Chatbot(Component):
    """The conversation. ``type="messages"`` is accepted (it is the only format, as in Gradio 6)."""

    kind = "chatbot"
    greeting: tuple[ChatMessage, ...] = ()

    def __init__(
        self,
        value: Any = None,
        *,
        type: str | None = "messages",
        placeholder: str | None = None,
        examples: list[Any] | None = None,
        avatar_images: tuple[Any, Any] | None = None,
        **options: Any,
    ) -> None:
        if type not in (None, "messages"):
            raise ValueError(
                f"gr.Chatbot(type={type!r}) is not supported: webchat speaks Gradio's 'messages' format only"
            )
        # Initial messages (a greeting): shown in an empty chat, and the start of every new
        # conversation's history, as in Gradio.
        self.greeting = _greeting(value)
        self.reasoning_tags = tags_of(options.pop("reasoning_tags", None))
        # Gradio's editable="user" | "all": which messages may be edited in place.
        edits = options.pop("editable", None)
        if edits not in (None, False, "user", "all"):
            raise ValueError(f"gr.Chatbot(editable={edits!r}): give 'user', 'all' or None")
        self.edits: str | None = edits or None
        self.look = _look(options, edit_replies=edits == "all")
        super().__init__(None, **options)
        self.placeholder = placeholder
        self.examples = [_example(e) for e in examples or []]
        self.avatar_images = avatar_paths(avatar_images)

    def postprocess(self, value: Any) -> list[ChatMessage]:
        """A handler's Chatbot value as messages; ValueError saying what is wrong otherwise."""
        if isinstance(value, Mapping) and value.get("__type__") == "update":
            value = value.get("value")
        try:
            return [m for item in value or [] for m in to_messages(item)]
        except (MessageError, ChatFunctionError, TypeError) as error:
            raise ValueError(
                f"the Chatbot's value must be messages in Gradio's messages format: {error}"
            ) from None

    # The Chatbot's events, as Gradio names them. Each handler gets Gradio's event data where a
    # parameter asks for it: LikeData, RetryData and UndoData (the last user message: its index in
    # the Chatbot's value and its content), EditData (the message edited, its new and previous
    # text), SelectData (the option or example chosen). See webchat.gradio.blocks for how each runs.
    like = _listener("like", "Run ``fn`` with a ``gr.LikeData`` when a reply is liked or disliked.")
    retry = _listener(
        "retry", "Run ``fn`` (with a ``gr.RetryData``) when Retry is pressed; its Chatbot values stream."
    )
    undo = _listener("undo", "Run ``fn`` (with a ``gr.UndoData``) when Undo is pressed, instead of removing.")
    edit = _listener("edit", "Run ``fn`` (with a ``gr.EditData``) once a message was edited in place.")
    clear = _listener("clear", "Run ``fn`` when the chat is cleared.")
    option_select = _listener(
        "option_select", "Run ``fn`` (with a ``gr.SelectData``) when an option under a reply is chosen."
    )
    example_select = _listener(
        "example_select",
        "Run ``fn`` (with a ``gr.SelectData``, value ``{'text', 'files'}``) when an example is chosen.",
    )


class Button(Component):
    kind = "button"

    def __init__(self, value: str = "Run", *, variant: str = "secondary", **options: Any) -> None:
        super().__init__(str(value), **options)
        self.variant = variant

    def click(
        self, fn: Callable[..., Any] | None, inputs: Any = None, outputs: Any = None, **options: Any
    ) -> Dependency:
        """Run ``fn`` when the button is pressed (it sends the message in the composer)."""
        return self._listen("click", fn, inputs, outputs, **options)


class ClearButton(Button):
    """Empties the components it was given; with the Chatbot among them, starts a new chat."""

    kind = "clear"

    def __init__(self, components: Any = None, value: str = "Clear", **options: Any) -> None:
        self.components: list[Component] = []
        super().__init__(value, **options)
        self.add(components)

    def add(self, components: Any) -> ClearButton:
        if components is None:
            return self
        items = components if isinstance(components, list | tuple | set) else [components]
        for item in items:
            if not isinstance(item, Component):
                raise UnsupportedError(
                    f"gr.ClearButton can clear webchat components only, not {type(item).__name__}"
                )
            self.components.append(item)
        return self

    @property
    def clears_chat(self) -> bool:
        return any(isinstance(c, Chatbot) for c in self.components)

    def click(self, *args: Any, **kwargs: Any) -> Dependency:
        raise UnsupportedError("gr.ClearButton.click() is not supported by webchat: it clears, nothing more")


# Gradio's string shortcuts for additional inputs, e.g. additional_inputs=["textbox", "slider"].
SHORTCUTS: dict[str, Callable[[], FormComponent]] = {
    "textbox": Textbox,
    "text": Textbox,
    "slider": Slider,
    "number": Number,
    "checkbox": Checkbox,
    "dropdown": Dropdown,
    "radio": Radio,
}


def form_component(value: Any) -> FormComponent:
    """An additional input: a form component, or the name of one."""
    if isinstance(value, str):
        make = SHORTCUTS.get(value.lower())
        if make is None:
            raise UnsupportedError(
                f"additional input {value!r} is not supported by webchat; use one of: "
                + ", ".join(sorted(SHORTCUTS))
            )
        return make()
    if isinstance(value, FormComponent):
        return value
    name = type(value).__name__
    raise UnsupportedError(
        f"gr.{name} as an additional input is not supported by webchat "
        "(supported: Textbox, Slider, Number, Checkbox, Dropdown, Radio)"
    )


def _example(example: Any) -> dict[str, Any]:
    """One of ``gr.Chatbot(examples=[...])``: Gradio's ``{"text", "display_text", "icon", "files"}``
    (a bare string is its text). Files must be local (the page shows them from this server)."""
    if isinstance(example, str):
        example = {"text": example}
    if not isinstance(example, Mapping):
        raise ValueError(f"gr.Chatbot(examples=...): each example is a dict or a string, not {example!r}")
    files = example.get("files") or []
    files = [files] if isinstance(files, str | Path) else list(files)
    for file in files:
        if not Path(str(file)).is_file():
            raise ValueError(f"gr.Chatbot(examples=...): {file!r} is not a file on this machine")
    return {
        "text": example.get("text") or "",
        "display_text": example.get("display_text") or example.get("text") or "",
        "files": [str(f) for f in files],
    }


MATH_DELIMITERS = frozenset({"$", "$$", "\\(", "\\["})


def _look(options: dict[str, Any], edit_replies: bool) -> MessageLook:
    """How the messages are drawn, from Gradio's Chatbot options (taken out of ``options``).
    Copy stays under each message unless ``show_copy_button=False`` or ``buttons`` without
    "copy" say otherwise (webchat's default; Gradio 5's was off)."""
    markdown = options.pop("render_markdown", True) is not False
    delimiters = options.pop("latex_delimiters", None)
    if delimiters is not None:
        lefts = {str(d.get("left")) for d in delimiters if isinstance(d, Mapping)}
        if lefts - MATH_DELIMITERS:
            log.warning(
                "gr.Chatbot(latex_delimiters=...): webchat reads math between $...$, $$...$$, "
                "\\(...\\) and \\[...\\] only, not %s",
                ", ".join(sorted(lefts - MATH_DELIMITERS)),
            )
    buttons = options.pop("buttons", None)
    copy_button = options.pop("show_copy_button", None)
    copy_all = options.pop("show_copy_all_button", False)
    if buttons is not None:
        copy_button = copy_button if copy_button is not None else "copy" in buttons
        copy_all = copy_all or "copy_all" in buttons
    feedback = options.pop("feedback_options", ("Like", "Dislike"))
    return MessageLook(
        markdown=markdown,
        math=markdown and (delimiters is None or bool(delimiters)),
        copy=copy_button is not False,
        copy_all=bool(copy_all),
        feedback=tuple(str(o) for o in feedback or ()),
        grouped=options.pop("group_consecutive_messages", True) is not False,
        edit_replies=edit_replies,
    )


def _greeting(value: Any) -> tuple[ChatMessage, ...]:
    """``gr.Chatbot(value=[...])`` in messages format, or a clear error naming what is wrong."""
    if not value:
        return ()
    if callable(value):
        raise UnsupportedError("gr.Chatbot(value=<function>) is not supported by webchat: give the messages")
    try:
        return tuple(messages_from_list(list(value)))
    except (MessageError, TypeError) as error:
        raise ValueError(
            f"gr.Chatbot(value=...) must be messages in Gradio's messages format: {error}"
        ) from None
