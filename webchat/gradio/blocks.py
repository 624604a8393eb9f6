"""``gr.Blocks``: a program's page of components and events, served by webchat.

A Blocks app is a layout (Rows, Columns, Tabs, Accordions holding components) and events (a
component's listener and its ``.then`` chain of handlers). webchat draws the layout on the server
(templates/partials/gr/) and runs every handler on the server:

- **chat events**, the ones that send a message (Enter in the Textbox whose handlers update the
  Chatbot, or a Button whose handlers read that Textbox) run as a turn of webchat's chat engine,
  so their replies stream, stop, survive reloads and are stored like any reply
  (:class:`~webchat.gradio.runtime.BlocksChat`);
- **page events** (any other click, change, select, submit, ``demo.load``, ``chatbot.undo``...)
  run in the request that the page's htmx sends, which answers with the outputs that changed,
  drawn again (:class:`~webchat.gradio.runtime.PageEvents`); a Chatbot output becomes the
  conversation's stored messages.

State values stay on the server, per browser session. Anything that cannot be served raises
:class:`~webchat.gradio.components.UnsupportedError` while the program builds, naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from webchat.gradio import context
from webchat.gradio.components import (
    Button,
    Chatbot,
    ClearButton,
    Component,
    FormComponent,
    State,
    Textbox,
    UnsupportedError,
)
from webchat.gradio.events import Dependency, Event, listen
from webchat.gradio.launch import build_app, launch
from webchat.gradio.page import page_for_blocks
from webchat.gradio.runtime import BlocksChat, PageEvents


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


class Sidebar(Container):
    kind = "column"

    def __init__(self, label: str | None = None, *, open: bool = True, **display: Any) -> None:
        super().__init__(**display)


class Tabs(Container):
    """Tabs: each child Tab is one panel; the first (or ``selected``) is shown."""

    kind = "tabs"

    def __init__(self, *, selected: int | str | None = None, **display: Any) -> None:
        super().__init__(**display)
        self.selected = selected
        self.id = next(_tab_ids)


class Tab(Container):
    """One panel of Tabs; a Tab outside Tabs gets Tabs of its own with its neighbours."""

    kind = "tab"

    def __init__(self, label: str | None = None, *, id: int | str | None = None, **display: Any) -> None:
        parent = context.current_container()
        if parent is not None and not isinstance(parent, Tabs):
            # Gradio groups consecutive Tabs of one container into one set of tabs.
            last = parent.children[-1] if parent.children else None
            tabs = last if isinstance(last, Tabs) else Tabs()
            context.push(tabs)
            try:
                super().__init__(**display)
            finally:
                context.pop()
        else:
            super().__init__(**display)
        self.label = label or ""


TabItem = Tab
_tab_ids = iter(range(1, 1 << 62))


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
        self.blocks = self  # demo.load(...) is an event of the app itself
        self.title = title or "webchat"
        self.css = css or ""
        self.events: list[Event] = []
        self.built = False
        self.chatbot: Chatbot | None = None
        self.composer: Textbox | None = None
        self.form_inputs: list[FormComponent] = []
        self.chat_events: set[int] = set()  # events run as turns (they send a message)
        self.clearing: set[int] = set()  # ids of Buttons whose click only empties the Chatbot
        self.interfaces: list[Any] = []  # ChatInterfaces placed in this layout
        self.concurrency_limit: int | None = None  # replies of chat events at once (queue())

    def __enter__(self) -> Blocks:
        if context.current_container() is not None:
            raise UnsupportedError("a gr.Blocks inside another gr.Blocks is not supported by webchat")
        super().__enter__()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        super().__exit__(exc_type, *exc)
        if exc_type is None:
            self.build()

    # Building: checked at the end of the ``with`` block, and again at launch (events may be
    # added after the block, e.g. demo.load(...)).

    def build(self) -> None:
        """Find the chat (the Chatbot and the Textbox that sends to it), sort the events into chat
        events and page events, and refuse what cannot be served, naming it."""
        components = list(self.walk())
        chatbots = [c for c in components if isinstance(c, Chatbot)]
        if len(chatbots) > 1:
            raise UnsupportedError(
                "webchat serves one conversation per page: this layout has "
                f"{len(chatbots)} gr.Chatbot components (keep one)"
            )
        self.chatbot = chatbots[0] if chatbots else None
        self.composer = self._find_composer()
        if self.composer is not None and not self.composer.is_rendered:
            raise UnsupportedError("the Textbox that sends messages must be in the layout (render=True)")
        for event in self.events:
            self._check(event)
        self.chat_events = {e.index for e in self.events if self._sends(e)}
        self.clearing = {
            id(e.trigger)
            for e in self.events
            if e.kind == "click" and e.index not in self.chat_events and self._only_clears(e)
        }
        self.form_inputs = [c for c in components if isinstance(c, FormComponent) and c is not self.composer]
        self.built = True

    def _find_composer(self) -> Textbox | None:
        """The Textbox the user writes messages in: one whose Enter (or whose Button) updates the
        Chatbot with what it holds."""
        if self.chatbot is None:
            return None
        for event in self.events:
            if (
                event.kind == "submit"
                and isinstance(event.trigger, Textbox)
                and self.chatbot in event.outputs
            ):
                return event.trigger
        for event in self.events:
            if event.kind == "click" and self.chatbot in event.outputs:
                typed = [c for c in event.inputs if isinstance(c, Textbox) and c.is_rendered]
                if typed:
                    return typed[0]
        return None

    def _sends(self, event: Event) -> bool:
        """Is this a chat event: does it send the composer's message and update the Chatbot?
        (``chatbot.retry`` handlers that update the Chatbot are one too: their reply streams.)"""
        if self.composer is None or self.chatbot not in event.outputs:
            return False
        if event.kind == "retry":
            return event.trigger is self.chatbot
        if event.kind == "submit":
            return event.trigger is self.composer
        return event.kind == "click" and self.composer in event.inputs

    def _only_clears(self, event: Event) -> bool:
        """Gradio's clear idiom, ``clear.click(lambda: None, None, chatbot)``: handlers that take
        nothing and give the Chatbot nothing. Such a button starts a new chat, as a ClearButton
        does, so the conversation stays in the sidebar. (A handler that takes nothing is called
        here once to see what it gives.)"""
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

    def load(self, fn: Any = None, inputs: Any = None, outputs: Any = None, **_options: Any) -> Dependency:
        """Run ``fn`` each time the page loads (a Chatbot output fills a new, empty chat only: a
        stored conversation is not produced again on reload)."""
        return listen(self, "load", fn, inputs, outputs)

    def unload(self, fn: Any = None, **_options: Any) -> Dependency:
        """Run ``fn`` (it takes no inputs, as in Gradio) when a visitor's page is closed or left."""
        return listen(self, "unload", fn, None, None)

    def route(self, *_args: Any, **_kwargs: Any) -> Any:
        raise UnsupportedError("Blocks.route() is not supported by webchat: a program has one page")

    def _check(self, event: Event) -> None:
        for component in [*event.inputs, *event.outputs]:
            if (
                isinstance(component, Component)
                and component.blocks is not self
                and not isinstance(component, State)
            ):
                raise UnsupportedError(
                    f"{component!r} is an input or output of an event but is not in the layout "
                    "(give it render=True, or call its .render() inside the Blocks)"
                )
        if isinstance(event.trigger, ClearButton):
            return
        if event.kind == "like":
            for step in event.steps:
                if step.inputs or step.outputs:
                    raise UnsupportedError(
                        "Chatbot.like() handlers get the gr.LikeData only in webchat: inputs and "
                        "outputs are not supported"
                    )

    # What the page and the routes need.

    def event(self, index: int) -> Event | None:
        return self.events[index] if 0 <= index < len(self.events) else None

    def trigger_steps(self, trigger: str) -> list[Any]:
        """The handlers of a chat event: "submit" (Enter in the composer), "retry" (the Chatbot's
        retry handlers) or "event:<index>"."""
        return [s for e in self.trigger_events(trigger) for s in e.steps]

    def trigger_events(self, trigger: str) -> list[Event]:
        """The chat events a trigger runs (see :meth:`trigger_steps`)."""
        if trigger in ("submit", "retry"):
            return [e for e in self.events if e.index in self.chat_events and e.kind == trigger]
        if trigger.startswith(("event:", "click:")):
            kind, _, number = trigger.partition(":")
            for e in self.events:
                if e.index not in self.chat_events:
                    continue
                if (kind == "event" and str(e.index) == number) or (
                    kind == "click" and e.kind == "click" and str(getattr(e.trigger, "id", "")) == number
                ):
                    return [e]
        return []

    def trigger_limit(self, trigger: str) -> int | None:
        """How many replies of this trigger may run at once: its listener's concurrency_limit, else
        queue(default_concurrency_limit=...), else no limit."""
        limits = [e.concurrency_limit for e in self.trigger_events(trigger) if e.concurrency_limit]
        return min(limits) if limits else self.concurrency_limit

    def listeners(self, component: Any, *kinds: str) -> list[Event]:
        """The page events of ``component`` of these kinds (all kinds when none is named)."""
        return [
            e
            for e in self.events
            if e.trigger is component and e.index not in self.chat_events and (not kinds or e.kind in kinds)
        ]

    def sends(self, button: Any) -> Event | None:
        """The chat event a Button's click starts, if any."""
        return next(
            (
                e
                for e in self.events
                if e.trigger is button and e.index in self.chat_events and e.kind == "click"
            ),
            None,
        )

    def clicks(self, button: Button) -> bool:
        return any(e.kind == "click" and e.trigger is button for e in self.events)

    @property
    def sends_on_enter(self) -> bool:
        return any(e.kind == "submit" and e.index in self.chat_events for e in self.events)

    @property
    def draws_after_reply(self) -> bool:
        """Does a reply's end change more of the page (a chat event's other outputs, or the
        Chatbot's .change listeners)? Then the page asks for it (partials/reply.html)."""
        return self.streams_outputs or bool(self.chatbot and self.listeners(self.chatbot, "change"))

    @property
    def streams_outputs(self) -> bool:
        """Do chat events have outputs besides the Chatbot (drawn while their reply streams)?"""
        chat = [e for e in self.events if e.index in self.chat_events]
        return any(c is not self.chatbot for e in chat for c in e.outputs)

    @property
    def loads(self) -> list[Event]:
        return [e for e in self.events if e.kind == "load"]

    @property
    def unloads(self) -> list[Event]:
        return [e for e in self.events if e.kind == "unload"]

    def handles(self, kind: str) -> bool:
        """Has the Chatbot page-event handlers of this kind ("undo", "edit", "option_select"...)?
        Then its control runs them (webchat.gradio.runtime.PageEvents.chatbot) instead of what
        webchat does by itself."""
        return self.chatbot is not None and bool(self.listeners(self.chatbot, kind))

    @property
    def retries(self) -> str:
        """What the Retry control does: "turn" (run the reply's chat event, or the Chatbot's retry
        handlers, again as a streamed reply), "event" (retry handlers that give no reply: a page
        event) or "" (no Retry: nothing sends messages here)."""
        if self.handles("retry"):
            return "event"
        return "turn" if self.chat_events else ""

    def edits(self, role: str) -> bool:
        """May a message of this role be edited? With ``gr.Chatbot(editable=...)`` the edit is made
        in place and the edit handlers run; without, only a sent message is, sending it again
        (when messages are sent here)."""
        if self.chatbot is not None and self.chatbot.edits:
            return self.chatbot.edits == "all" or role == "user"
        return role == "user" and bool(self.chat_events)

    # Serving.

    def app(self, settings: Any = None) -> Any:
        """The Flask app (for gunicorn, or to mount elsewhere)."""
        self.build()
        chat = BlocksChat(self)
        events = PageEvents(self, chat.sessions)
        return build_app(chat, page_for_blocks(self, events), settings, on_like=chat.liked)

    def launch(self, *args: Any, **kwargs: Any) -> None:
        """Serve until interrupted, with Gradio's ``launch()`` arguments (see ChatInterface.launch)."""
        self.build()
        launch(self.app, *args, **kwargs)

    def queue(self, *args: Any, default_concurrency_limit: Any = "not_set", **kwargs: Any) -> Blocks:
        """Gradio's queue(): handlers run on the server as their events come. A number as
        ``default_concurrency_limit`` limits the replies of chat events at once (the others wait
        their turn), and a ChatInterface placed here without its own limit; None: no limit (the
        default here, where Gradio's is 1). Its other options are accepted."""
        if default_concurrency_limit != "not_set":
            limit = default_concurrency_limit
            self.concurrency_limit = limit if isinstance(limit, int) and limit > 0 else None
            for interface in self.interfaces:
                interface.queue(default_concurrency_limit=limit)
        return self
