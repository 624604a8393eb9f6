"""``ChatInterface``: serve a chat function the way ``gr.ChatInterface`` does (Gradio 6's surface).

The chat function receives what Gradio 6 passes: the message (text, or ``{"text", "files"}`` when
``multimodal=True``), the history as Gradio 6's messages (content as a list of blocks), then the
values of the additional inputs in order. Parameters that only style Gradio's own page are
accepted and ignored; ones that would change behaviour webchat does not have raise
:class:`~webchat.errors.UnsupportedError` at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webchat.chat import ChatFunction, gradio_history, iterate_outputs, strip_echo, to_reply
from webchat.errors import UnsupportedError
from webchat.gradio import context
from webchat.gradio.components import Chatbot, Markdown, MultimodalTextbox, Textbox, form_component
from webchat.gradio.events import listen
from webchat.gradio.launch import build_app, launch
from webchat.gradio.page import GradioPage, button_label
from webchat.gradio.reasoning import Tags, split_reasoning
from webchat.gradio.types import oauth_arguments
from webchat.settings import Settings
from webchat.web.page import MessageLook, Page

if TYPE_CHECKING:
    from flask import Flask

    from webchat.gradio.blocks import Accordion

__all__ = ["ChatInterface"]

log = logging.getLogger("webchat")


class GradioFunction:
    """A chat function called the Gradio 6 way: history as Gradio's messages, at most
    ``concurrency_limit`` replies at once (the others wait their turn)."""

    def __init__(
        self,
        fn: ChatFunction,
        concurrency_limit: int | None = None,
        defaults: tuple[Any, ...] = (),
        reasoning_tags: Tags = (),
    ) -> None:
        self.fn = fn
        self.reasoning_tags = reasoning_tags  # the Chatbot's: tagged passages become thoughts
        self.limit(concurrency_limit)
        self.defaults = defaults  # the additional inputs' values for a caller that has no form (the API)

    def limit(self, concurrency_limit: int | None) -> None:
        """At most this many replies at once (None: no limit); set before serving."""
        self.slots = threading.BoundedSemaphore(concurrency_limit) if concurrency_limit else None

    def __call__(self, message: Any, history: list[dict[str, Any]], *extra: Any) -> Iterator[Any]:
        extra = (*extra, *self.defaults[len(extra) :])
        extra = (*extra, *oauth_arguments(self.fn, 2 + len(extra)))  # no Hugging Face sign-in here
        chat = gradio_history(history)
        if self.slots is not None:
            self.slots.acquire()
        try:
            outputs = iterate_outputs(self.fn, message, list(chat), *extra)
            try:
                for output in outputs:
                    if self.reasoning_tags:
                        output = split_reasoning(to_reply(output, chat, message), self.reasoning_tags)
                    elif isinstance(output, list):
                        output = strip_echo(output, chat, message)
                    yield output
            finally:
                outputs.close()
        finally:
            if self.slots is not None:
                self.slots.release()


class ChatInterface:
    """A chat page around ``fn(message, history, *additional_inputs)``."""

    def __init__(
        self,
        fn: ChatFunction,
        *,
        multimodal: bool = False,
        type: str | None = "messages",
        chatbot: Chatbot | None = None,
        textbox: Textbox | None = None,
        additional_inputs: Any = None,
        additional_inputs_accordion: str | Accordion | None = None,
        additional_outputs: Any = None,
        editable: bool = False,
        examples: Sequence[Any] | None = None,
        examples_label: str | None = "Examples",
        example_labels: Sequence[str] | None = None,
        example_icons: Sequence[str] | None = None,
        run_examples_on_click: bool = True,
        cache_examples: bool | None = None,
        cache_mode: str | None = None,
        title: str | None = None,
        description: str | None = None,
        theme: Any = None,
        css: str | None = None,
        css_paths: Any = None,
        js: str | None = None,
        head: str | None = None,
        flagging_mode: str | None = None,
        flagging_options: Sequence[str] | None = ("Like", "Dislike"),
        flagging_dir: str = ".gradio/flagged",
        analytics_enabled: bool | None = None,
        autofocus: bool = True,
        autoscroll: bool = True,
        submit_btn: str | bool | None = True,
        stop_btn: str | bool | None = True,
        concurrency_limit: int | str | None = "default",
        delete_cache: Any = None,
        show_progress: str = "minimal",
        fill_height: bool = True,
        fill_width: bool = False,
        api_name: str | None = None,
        api_description: Any = None,
        api_visibility: str = "public",
        save_history: bool = False,
        validator: Callable[..., Any] | None = None,
        placeholder: str | None = None,
    ) -> None:
        if type not in (None, "messages"):
            raise ValueError(
                f"type={type!r} is not supported: webchat speaks Gradio's 'messages' format only"
            )
        in_blocks = context.current_blocks() is not None
        _refuse(
            additional_outputs=additional_outputs if not in_blocks else None,
            js=js,
            head=head,
            example_icons=example_icons,
        )
        if cache_examples:
            # Gradio runs the examples at start (or on first click, "lazy") and shows the cached
            # answer; here an example is sent like a message when clicked, and answered then.
            log.info("cache_examples: webchat runs each example when it is clicked, caching nothing")
        if not run_examples_on_click:
            raise UnsupportedError(
                "ChatInterface(run_examples_on_click=False) is not supported: "
                "webchat sends an example when clicked"
            )
        if flagging_mode not in (None, "never", "manual"):
            raise ValueError("Invalid value for `flagging_mode` parameter. Must be: 'manual' or 'never'.")
        if isinstance(fn, ChatInterface):
            fn = fn.fn
        multimodal = multimodal or isinstance(textbox, MultimodalTextbox)
        self.fn = fn
        self.concurrency_limit = concurrency_limit if isinstance(concurrency_limit, int) else None
        self.limit_given = concurrency_limit != "default"  # else queue(default_concurrency_limit=)
        self.chat: GradioFunction | None = None  # made when placed in a Blocks layout
        inputs = tuple(form_component(c) for c in _as_list(additional_inputs))
        texts, example_values, example_files = _examples(examples, len(inputs))
        if example_files and not multimodal:
            raise ValueError(
                "examples with files need a chat that takes files: ChatInterface(multimodal=True)"
            )
        labels = tuple(str(label) for label in example_labels or ())
        if labels and len(labels) != len(texts):
            raise ValueError("example_labels must have one label for each example")
        box = textbox if isinstance(textbox, Textbox) else None
        self.page = GradioPage(
            inputs=inputs,
            inputs_label=_accordion_label(additional_inputs_accordion),
            inputs_open=bool(getattr(additional_inputs_accordion, "open", False)),
            example_values=example_values,
            example_files=example_files,
            css=css or "",
            chat_placeholder=chatbot.placeholder if isinstance(chatbot, Chatbot) else None,
        )
        self.interface = Page(
            title=title or "webchat",
            description=description or "",
            placeholder=placeholder or (box.placeholder if box and box.placeholder else "Message"),
            examples=texts,
            multimodal=multimodal,
            gradio=self.page,
            submit_label=button_label(box.submit_btn if box and box.submit_btn else submit_btn, "Send"),
            stop_label=button_label(box.stop_btn if box and box.stop_btn else stop_btn, "Stop"),
            example_labels=labels,
            avatar_images=chatbot.avatar_images if isinstance(chatbot, Chatbot) else (None, None),
            greeting=chatbot.greeting if isinstance(chatbot, Chatbot) else (),
            look=chatbot.look if isinstance(chatbot, Chatbot) else MessageLook(),
        )
        self.reasoning_tags = chatbot.reasoning_tags if isinstance(chatbot, Chatbot) else ()
        self.chatbot: Chatbot | None = None
        self.textbox: Textbox | None = None
        self.page.validator = validator
        self._parts = (chatbot, box, multimodal, inputs, _as_list(additional_outputs), title, description)
        if in_blocks:
            self._place(*self._parts)

    def _place(
        self,
        chatbot: Chatbot | None,
        box: Textbox | None,
        multimodal: bool,
        inputs: tuple[Any, ...],
        outputs: list[Any],
        title: str | None,
        description: str | None,
    ) -> None:
        """Inside ``gr.Blocks``: the chat becomes part of the layout, where the ChatInterface is
        made (its title, Chatbot, Textbox, and the additional inputs not rendered elsewhere, in an
        accordion), and sending a message runs the chat function as Gradio's does."""
        from webchat.gradio.blocks import Accordion, Column  # the layout module builds on this one

        blocks = context.current_blocks()
        with Column():
            if title:
                Markdown(f"# {title}")
            if description:
                Markdown(description)
            self.chatbot = (
                chatbot if isinstance(chatbot, Chatbot) else Chatbot(placeholder=self.page.chat_placeholder)
            )
            self.chatbot.render()
            self.textbox = box or (
                MultimodalTextbox() if multimodal else Textbox(placeholder=self.interface.placeholder)
            )
            self.textbox.render()
            loose = [c for c in inputs if not c.is_rendered]
            if loose:
                with Accordion(self.page.inputs_label, open=self.page.inputs_open):
                    for component in loose:
                        component.render()
        defaults = tuple(c.default() for c in inputs)
        chat = self.chat = GradioFunction(self.fn, self.concurrency_limit, defaults, self.reasoning_tags)
        listen(
            self.textbox,
            "submit",
            chat,
            [self.textbox, self.chatbot, *inputs],
            [self.chatbot, *outputs],
            reply=True,
        )
        blocks.interfaces.append(self)

    @property
    def chatbot_value(self) -> Chatbot | None:
        """Gradio's name for the Chatbot's value as an event input or output."""
        return self.chatbot

    def render(self) -> ChatInterface:
        """Place a ChatInterface made earlier in the Blocks being built (Gradio's ``render()``)."""
        if context.current_blocks() is not None and self.chatbot is None:
            chatbot, box, _multimodal, inputs, outputs, _title, _description = self._parts
            for component in (chatbot, box, *inputs, *outputs):
                if component is not None:
                    component.render()
            self._place(*self._parts)
        return self

    def app(self, settings: Settings | None = None) -> Flask:
        """The Flask app (for gunicorn, or to mount elsewhere)."""
        defaults = tuple(c.default() for c in self.page.inputs)
        chat = GradioFunction(self.fn, self.concurrency_limit, defaults, self.reasoning_tags)
        return build_app(chat, self.interface, settings)

    def launch(self, *args: Any, **kwargs: Any) -> None:
        """Serve until interrupted, with Gradio's ``launch()`` arguments: ``server_name``,
        ``server_port``, ``root_path``, ``auth`` (user/password pairs), ``css`` and ``theme``
        (Gradio 6 takes them here); ``share=True`` is refused, webchat makes no tunnels."""
        launch(self.app, *args, **kwargs)

    def queue(self, *args: Any, default_concurrency_limit: Any = "not_set", **kwargs: Any) -> ChatInterface:
        """Gradio's queue(): replies always run in the background here; its
        ``default_concurrency_limit`` (a number, or None for no limit) is the chat function's
        limit unless ``concurrency_limit`` was given. Its other options are accepted."""
        if default_concurrency_limit != "not_set" and not self.limit_given:
            limit = default_concurrency_limit
            self.concurrency_limit = limit if isinstance(limit, int) and limit > 0 else None
            if self.chat is not None:
                self.chat.limit(self.concurrency_limit)
        return self


def _refuse(**given: Any) -> None:
    reasons = {
        "additional_outputs": "a chat function's reply is its only output",
        "js": "pages run no inline scripts",
        "head": "pages run no inline scripts",
        "example_icons": "examples are text buttons",
    }
    for name, value in given.items():
        if value:
            raise UnsupportedError(f"ChatInterface({name}=...) is not supported by webchat: {reasons[name]}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _accordion_label(accordion: Any) -> str:
    if accordion is None:
        return "Additional Inputs"
    if isinstance(accordion, str):
        return accordion
    return getattr(accordion, "label", None) or "Additional Inputs"


def _examples(
    examples: Sequence[Any] | None, inputs: int
) -> tuple[tuple[str, ...], dict[str, tuple[Any, ...]], dict[str, tuple[str, ...]]]:
    """Example texts; for examples given as lists, their additional input values; for those
    given as ``{"text", "files"}`` (a multimodal chat's), their files (local paths, or http(s)
    URLs fetched when the example is sent)."""
    texts: list[str] = []
    values: dict[str, tuple[Any, ...]] = {}
    files: dict[str, tuple[str, ...]] = {}
    for example in examples or ():
        extra: tuple[Any, ...] = ()
        if isinstance(example, list | tuple):
            if not example:
                raise ValueError("an example given as a list needs the message first")
            if len(example) > 1 + inputs:
                raise ValueError(
                    f"an example has {len(example) - 1} additional input values but there are {inputs} "
                    "additional inputs"
                )
            example, extra = example[0], tuple(example[1:])
        attached: tuple[str, ...] = ()
        if isinstance(example, Mapping):
            attached = tuple(str(f) for f in example.get("files") or ())
            for file in attached:
                if not file.startswith(("http://", "https://")) and not Path(file).is_file():
                    raise ValueError(f"an example's file {file!r} is not a file on this machine")
            example = example.get("text", "")
        text = str(example)
        texts.append(text)
        if extra:
            values[text] = extra
        if attached:
            files[text] = attached
    return tuple(texts), values, files
