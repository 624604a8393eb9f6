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
:class:`~webchat.gradio.components.UnsupportedError` while the program builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from webchat.gradio import context
from webchat.gradio.components import (
    Button,
    Chatbot,
    Component,
    FormComponent,
    State,
    Textbox,
    UnsupportedError,
)
from webchat.gradio.events import Event, Step
from webchat.gradio.launch import build_app, launch
from webchat.gradio.page import page_for_blocks
from webchat.gradio.runner import BlocksChat


class Container:
    """A layout box: its children are components and other boxes, in order."""

    kind = "column"

    def __init__(self, **_display: Any) -> None:
        self.children: list[Component | Container] = []
        parent = context.current_container()
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
        context.push(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        context.pop()

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
        self.clearing: set[int] = set()  # ids of Buttons whose click only empties the Chatbot

    def __enter__(self) -> Blocks:
        if context.current_container() is not None:
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
        self.clearing = {id(e.trigger) for e in self.events if e.kind == "click" and self._only_clears(e)}
        self.form_inputs = [c for c in components if isinstance(c, FormComponent) and c is not self.composer]
        self.built = True

    def _only_clears(self, event: Event) -> bool:
        """Gradio's clear idiom, ``clear.click(lambda: None, None, chatbot)``: handlers that take
        nothing and give the Chatbot nothing. Such a button starts a new chat, as a ClearButton
        does. (A handler that takes nothing is called here once to see what it gives.)"""
        for step in event.steps:
            if step.inputs or self.chatbot not in step.outputs:
                return False
            if step.fn is None:
                continue
            try:
                given = step.fn()
            except Exception:  # it needs arguments, or fails without a request: not the idiom
                return False
            values = given if isinstance(given, tuple) else (given,)
            if any(value not in (None, [], "") for value in values):
                return False
        return bool(event.steps)

    def clears(self, button: Button) -> bool:
        return id(button) in self.clearing

    def load(self, *_args: Any, **_kwargs: Any) -> Any:
        raise UnsupportedError(
            "Blocks.load() is not supported by webchat yet: a conversation cannot be produced on page "
            "load (give the Chatbot its first message in the chat function instead)"
        )

    def unload(self, *_args: Any, **_kwargs: Any) -> Any:
        raise UnsupportedError(
            "Blocks.unload() is not supported by webchat: it runs nothing when a page closes"
        )

    def route(self, *_args: Any, **_kwargs: Any) -> Any:
        raise UnsupportedError("Blocks.route() is not supported by webchat: a program has one page")

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
                event.kind == "click"
                and trigger == f"click:{event.trigger.id}"
                and id(event.trigger) not in self.clearing
            ):
                steps.extend(event.steps)
        return steps

    def clicks(self, button: Button) -> bool:
        return any(e.kind == "click" and e.trigger is button for e in self.events)

    @property
    def sends_on_enter(self) -> bool:
        return any(e.kind == "submit" for e in self.events)

    # Serving.

    def app(self, settings: Any = None) -> Any:
        """The Flask app (for gunicorn, or to mount elsewhere)."""
        if not self.built:
            self.build()
        chat = BlocksChat(self)
        return build_app(chat, page_for_blocks(self), settings, on_like=chat.liked)

    def launch(self, *args: Any, **kwargs: Any) -> None:
        """Serve until interrupted, with Gradio's ``launch()`` arguments (see ChatInterface.launch)."""
        if not self.built:
            self.build()
        launch(self.app, *args, **kwargs)

    def queue(self, *args: Any, **kwargs: Any) -> Blocks:
        """Gradio's queue(): replies always run in the background here, so nothing to set."""
        return self
