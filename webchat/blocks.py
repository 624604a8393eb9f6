"""A minimal ``gr.Blocks`` for chat layouts, run on webchat's own page and turn machinery.

A Blocks chat layout is a Chatbot, a Textbox to type in and events that turn the Chatbot's
value into a new one. That is a chat function over the history, so webchat runs it as one:
sending the message in the Textbox starts a turn whose "chat function" runs the event's
handlers in order (``.then`` chains), feeding each the current values of its inputs, and
whatever a handler returns or yields for the Chatbot becomes the reply. The page is the normal
chat page with the layout (Rows, Columns, Markdown, Buttons) drawn around it.

Supported: Blocks, Row, Column, Group, Accordion, Markdown, Chatbot, Textbox, Button,
ClearButton, State and the input components; events Textbox.submit, Button.click,
Chatbot.like and ``.then``/``.success`` on them. Anything else raises
:class:`~webchat.components.UnsupportedError` while the program builds.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from webchat.chat import gradio_history, iterate_outputs, strip_echo, to_messages
from webchat.components import (
    Button,
    Chatbot,
    Component,
    FormComponent,
    State,
    Textbox,
    UnsupportedError,
)
from webchat.errors import Error
from webchat.feedback import LikeData

_building = threading.local()  # the stack of containers whose ``with`` block is open


def current_container() -> Container | None:
    stack = getattr(_building, "stack", [])
    return stack[-1] if stack else None


def current_blocks() -> Blocks | None:
    stack = getattr(_building, "stack", [])
    return stack[0] if stack and isinstance(stack[0], Blocks) else None


class Container:
    """A layout box: its children are components and other boxes, in order."""

    kind = "column"

    def __init__(self, **_display: Any) -> None:
        self.children: list[Component | Container] = []
        parent = current_container()
        self.root: Blocks | None = parent.root if parent is not None else None
        if parent is not None:
            parent.children.append(self)

    def add(self, component: Component) -> None:
        self.children.append(component)
        component.blocks = self.root

    def remove(self, component: Component) -> None:
        if component in self.children:
            self.children.remove(component)
            component.blocks = None
        for child in self.children:
            if isinstance(child, Container):
                child.remove(component)

    def __enter__(self) -> Container:
        if self.root is None and not isinstance(self, Blocks):
            raise UnsupportedError(f"gr.{type(self).__name__} must be used inside `with gr.Blocks():`")
        _building.stack = [*getattr(_building, "stack", []), self]
        return self

    def __exit__(self, *exc: Any) -> None:
        _building.stack = _building.stack[:-1]

    def walk(self) -> Iterator[Component]:
        for child in self.children:
            if isinstance(child, Container):
                yield from child.walk()
            else:
                yield child


class Row(Container):
    kind = "row"


class Column(Container):
    kind = "column"


class Group(Container):
    kind = "column"


class Accordion(Container):
    kind = "accordion"

    def __init__(self, label: str | None = None, *, open: bool = True, **display: Any) -> None:
        super().__init__(**display)
        self.label = label or ""
        self.open = open


@dataclass
class Step:
    fn: Callable[..., Any] | None
    inputs: list[Component]
    outputs: list[Component]


@dataclass
class Event:
    trigger: Component
    kind: str  # "submit", "click" or "like"
    steps: list[Step] = field(default_factory=list)


class Dependency:
    """What an event listener returns: ``.then()`` adds the next handler of the chain."""

    def __init__(self, event: Event) -> None:
        self.event = event

    def then(
        self, fn: Callable[..., Any] | None, inputs: Any = None, outputs: Any = None, **_options: Any
    ) -> Dependency:
        self.event.steps.append(Step(fn, _components(inputs, "inputs"), _components(outputs, "outputs")))
        return self

    success = then

    def __getattr__(self, name: str) -> Any:
        if name in ("failure", "change", "click", "submit"):
            raise UnsupportedError(f".{name}() after an event is not supported by webchat (use .then)")
        raise AttributeError(name)


def _components(value: Any, what: str) -> list[Component]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    if isinstance(value, set):
        raise UnsupportedError(f"event {what} given as a set are not supported by webchat: pass a list")
    for item in items:
        if not isinstance(item, Component):
            raise UnsupportedError(
                f"gr.{type(item).__name__} in an event's {what} is not supported by webchat's Blocks subset"
            )
    return list(items)


def listen(trigger: Component, kind: str, fn: Any, inputs: Any, outputs: Any) -> Dependency:
    blocks = trigger.blocks or current_blocks()
    if blocks is None:
        raise UnsupportedError(f"{trigger!r}.{kind}() must be called inside `with gr.Blocks():`")
    event = Event(trigger, kind)
    event.steps.append(Step(fn, _components(inputs, "inputs"), _components(outputs, "outputs")))
    blocks.events.append(event)
    return Dependency(event)


EventData = LikeData  # the only event data webchat's handlers receive


def update(**changes: Any) -> dict[str, Any]:
    """Gradio's ``gr.update(value=...)``: only ``value`` matters to webchat."""
    return {"__type__": "update", **changes}


class Blocks(Container):
    """``with gr.Blocks() as demo: ...`` then ``demo.launch()``."""

    kind = "column"

    def __init__(
        self,
        *,
        title: str | None = None,
        theme: Any = None,
        css: str | None = None,
        css_paths: Any = None,
        js: str | None = None,
        head: str | None = None,
        fill_height: bool = False,
        fill_width: bool = False,
        analytics_enabled: bool | None = None,
        delete_cache: Any = None,
        **_options: Any,
    ) -> None:
        if js or head:
            raise UnsupportedError(
                "gr.Blocks(js=..., head=...) is not supported by webchat: pages run no inline scripts"
            )
        super().__init__()
        self.root = self
        self.title = title or "webchat"
        self.css = css or ""
        self.events: list[Event] = []
        self.built = False
        self.chatbot: Chatbot | None = None
        self.composer: Textbox | None = None
        self.form_inputs: list[FormComponent] = []

    def __enter__(self) -> Blocks:
        if current_container() is not None:
            raise UnsupportedError("a gr.Blocks inside another gr.Blocks is not supported by webchat")
        super().__enter__()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        super().__exit__(exc_type, *exc)
        if exc_type is None:
            self.build()

    # Building: check the layout once, at the end of the ``with`` block.

    def build(self) -> None:
        """Check that this is a chat layout webchat can run; say what is not, naming it."""
        components = list(self.walk())
        chatbots = [c for c in components if isinstance(c, Chatbot)]
        if len(chatbots) != 1:
            raise UnsupportedError(
                "webchat's Blocks runs chat layouts: it needs exactly one gr.Chatbot, "
                f"and this has {len(chatbots)}"
            )
        self.chatbot = chatbots[0]
        if self.chatbot.value:
            raise UnsupportedError("gr.Chatbot(value=[...]) is not supported by webchat: a chat starts empty")
        submits = [e for e in self.events if e.kind == "submit"]
        senders = {id(e.trigger): e.trigger for e in submits}
        if len(senders) > 1:
            raise UnsupportedError(
                "webchat's Blocks sends messages from one Textbox: only one Textbox may have .submit()"
            )
        if senders:
            self.composer = next(iter(senders.values()))  # type: ignore[assignment]
        else:
            typed = [c for e in self.events for s in e.steps for c in s.inputs if isinstance(c, Textbox)]
            if not typed:
                raise UnsupportedError(
                    "webchat's Blocks runs chat layouts: it needs a gr.Textbox whose .submit() or a "
                    "Button's .click() sends the message"
                )
            self.composer = typed[0]
        if not self.composer.is_rendered:
            raise UnsupportedError("the Textbox that sends messages must be in the layout (render=True)")
        for event in self.events:
            self._check(event)
        self.form_inputs = [c for c in components if isinstance(c, FormComponent) and c is not self.composer]
        self.built = True

    def _check(self, event: Event) -> None:
        if event.kind == "like":
            for step in event.steps:
                if step.inputs or step.outputs:
                    raise UnsupportedError(
                        "Chatbot.like() handlers get the gr.LikeData only in webchat: inputs and "
                        "outputs are not supported"
                    )
            return
        for step in event.steps:
            for component in step.inputs:
                if not isinstance(component, FormComponent | Chatbot | State):
                    raise UnsupportedError(
                        f"gr.{type(component).__name__} as an event input is not supported by webchat "
                        "(inputs: Textbox, Chatbot, State, Slider, Number, Checkbox, Dropdown, Radio)"
                    )
            for component in step.outputs:
                if not (isinstance(component, Chatbot | State) or component is self.composer):
                    raise UnsupportedError(
                        f"gr.{type(component).__name__} as an event output is not supported by webchat "
                        "(an event may update the Chatbot, a State and the message Textbox)"
                    )

    # What the page and the routes need.

    def trigger_steps(self, trigger: str) -> list[Step]:
        """The handlers to run for "submit" (Enter in the Textbox) or "click:<button id>"."""
        steps: list[Step] = []
        for event in self.events:
            if (trigger == "submit" and event.kind == "submit") or (
                event.kind == "click" and trigger == f"click:{event.trigger.id}"
            ):
                steps.extend(event.steps)
        return steps

    def clicks(self, button: Button) -> bool:
        return any(e.kind == "click" and e.trigger is button for e in self.events)

    @property
    def sends_on_enter(self) -> bool:
        return any(e.kind == "submit" for e in self.events)

    def dispatch_like(self, data: LikeData) -> None:
        """Run the Chatbot.like handlers with Gradio's LikeData."""
        for event in self.events:
            if event.kind == "like":
                for step in event.steps:
                    if step.fn is not None:
                        for _ in iterate_outputs(step.fn, *_event_args(step.fn, [], data)):
                            pass

    # Serving.

    def app(self, settings: Any = None) -> Any:
        """The Flask app (for gunicorn, or to mount elsewhere)."""
        from webchat.interface import build_app, page_for_blocks

        if not self.built:
            self.build()
        return build_app(BlocksChat(self), page_for_blocks(self), settings, on_like=self.dispatch_like)

    def launch(self, *args: Any, **kwargs: Any) -> None:
        """Serve until interrupted, with Gradio's ``launch()`` arguments (see ChatInterface.launch)."""
        from webchat.interface import launch

        if not self.built:
            self.build()
        launch(self.app, *args, **kwargs)

    def queue(self, *args: Any, **kwargs: Any) -> Blocks:
        """Gradio's queue(): replies always run in the background here, so nothing to set."""
        return self


def _event_args(fn: Callable[..., Any], args: list[Any], data: Any) -> list[Any]:
    """``args`` plus Gradio's event data for parameters annotated ``gr.LikeData``/``gr.EventData``."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return args
    result = list(args)
    for parameter in parameters[len(args) :]:
        annotation = parameter.annotation
        name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if name.rsplit(".", 1)[-1] in ("LikeData", "EventData"):
            result.append(data)
    return result


MAX_SESSIONS = 10_000  # browser sessions whose State values are kept in memory


class BlocksChat:
    """The chat function of a Blocks layout: runs the handlers of the event that sent the message.

    Called as ``(message, history, trigger, state_key, *form_values)``: which event ("submit" or
    "click:<id>"), whose State values (a browser session), and the posted values of the layout's
    other input components in order. State values live in memory, per session.
    """

    def __init__(self, blocks: Blocks) -> None:
        self.blocks = blocks
        self.states: dict[str, dict[int, Any]] = {}
        self.lock = threading.Lock()

    def __call__(
        self,
        message: Any,
        history: list[dict[str, Any]],
        trigger: str = "submit",
        state_key: str = "",
        *values: Any,
    ) -> Iterator[list[Any]]:
        """Without a trigger and values (a caller with no form, such as the API), Enter's handlers
        run with the inputs' defaults and a fresh State."""
        blocks = self.blocks
        assert blocks.chatbot is not None and blocks.composer is not None
        values = (*values, *(c.default() for c in blocks.form_inputs[len(values) :]))
        steps = blocks.trigger_steps(trigger)
        if not steps and trigger == "submit":  # no Enter handler: a caller without a page gets a button's
            steps = next((e.steps for e in blocks.events if e.kind == "click"), [])
        if not steps:
            raise Error("This page is out of date: reload it, then send again.")
        chat = gradio_history(history)
        env: dict[int, Any] = {blocks.chatbot.id: list(chat), blocks.composer.id: message}
        env.update({c.id: v for c, v in zip(blocks.form_inputs, values, strict=False)})
        with self.lock:
            saved = dict(self.states.get(state_key, {}))
        for component in blocks.walk():
            if isinstance(component, State):
                env[component.id] = saved[component.id] if component.id in saved else component.initial()
        try:
            for step in steps:
                if step.fn is None:
                    continue
                args = [env.get(c.id, c.value) for c in step.inputs]
                for output in iterate_outputs(step.fn, *args):
                    if self._assign(step, output, env):
                        yield strip_echo(list(env[blocks.chatbot.id] or []), chat, message)
                if any(c is blocks.chatbot for c in step.outputs):
                    env[blocks.chatbot.id] = _as_gradio(env[blocks.chatbot.id])
        finally:
            if state_key:
                states = {c.id: env[c.id] for c in blocks.walk() if isinstance(c, State)}
                with self.lock:
                    self.states.pop(state_key, None)
                    self.states[state_key] = states  # newest last: the oldest go first when full
                    while len(self.states) > MAX_SESSIONS:
                        del self.states[next(iter(self.states))]

    def _assign(self, step: Step, output: Any, env: dict[int, Any]) -> bool:
        """Store a handler's output in its output components; True if the Chatbot changed."""
        outputs = step.outputs
        if not outputs:
            return False
        if isinstance(output, Mapping) and output and all(isinstance(k, Component) for k in output):
            pairs = list(output.items())
        elif len(outputs) == 1:
            pairs = [(outputs[0], output)]
        elif isinstance(output, list | tuple) and len(output) == len(outputs):
            pairs = list(zip(outputs, output, strict=True))
        else:
            count = len(output) if isinstance(output, list | tuple) else 1
            name = getattr(step.fn, "__name__", "the handler")
            raise Error(f"{name} returned {count} value(s) for {len(outputs)} outputs.")
        changed = False
        for component, value in pairs:
            env[component.id] = _unwrap(value, env.get(component.id))
            changed = changed or component is self.blocks.chatbot
        return changed


def _unwrap(value: Any, current: Any) -> Any:
    """A returned ``gr.update(value=...)`` or component instance stands for its value."""
    if isinstance(value, Mapping) and value.get("__type__") == "update":
        return value.get("value", current)
    if isinstance(value, Component):
        return value.value
    return value


def _as_gradio(value: Any) -> list[dict[str, Any]]:
    """A Chatbot value as the next handler receives it: Gradio 6's normalised messages."""
    messages = [m.to_dict() for item in value or [] for m in to_messages(item)]
    return gradio_history(messages)
