"""Running a Blocks app's handlers: chat events as turns, page events in their request.

Both kinds run the same way (:func:`run_steps`): each handler of the chain gets the current values
of its inputs (and Gradio's event data where a parameter asks for it), and each value it returns
or yields is assigned to its outputs, a ``gr.update(...)`` or a returned component changing only
what it names. Where values come from:

- form components (Textbox, Slider, Dropdown...): the page posts them with every event;
- State, and what earlier outputs put in display components (Markdown, Code, JSON, Image...): kept
  here per browser session (:class:`Sessions`), never in the page;
- the Chatbot: the conversation's stored messages, as Gradio 6's messages.

:class:`BlocksChat` is the chat function of chat events: the Chatbot values its handlers give
become the streamed reply; the other outputs are kept as *pending*, drawn while the reply streams
(on its socket) and when it ends.
:class:`PageEvents` runs the other events and answers what changed (:class:`EventOutcome`); one
whose handlers yield runs on in the background (:class:`EventRuns`) and the page follows it on a
socket, each value drawn as it comes.
"""

from __future__ import annotations

import inspect
import logging
import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from webchat.chat import gradio_history, iterate_outputs, strip_echo, to_messages
from webchat.errors import Error, InputError, describe
from webchat.gradio.components import (
    UPDATABLE,
    Chatbot,
    Component,
    FormComponent,
    State,
    _Choices,
)
from webchat.gradio.events import (
    EditData,
    Event,
    LikeData,
    RetryData,
    SelectData,
    Step,
    UndoData,
    event_args,
)
from webchat.turns import start_background
from webchat.web.page import EventOutcome

if TYPE_CHECKING:
    from webchat.gradio.blocks import Blocks

log = logging.getLogger("webchat")
MAX_SESSIONS = 10_000  # browser sessions whose values are kept in memory
CHANGE_DEPTH = 3  # outputs that fire .change listeners that change outputs...: at most this deep
MAX_RUNS = 1_000  # page events running on, kept for their page to follow
FOLLOW_SECONDS = 600.0  # a value of a running page event may take this long at most

Changes = dict[int, dict[str, Any]]  # component id -> gr.update's names and their new values


class Sessions:
    """Per browser session (owner): the values kept on the server (State, display components),
    and the outputs of chat events not drawn yet. The oldest sessions go first when full."""

    def __init__(self) -> None:
        self.values: dict[str, dict[int, Any]] = {}
        self.pending: dict[str, Changes] = {}
        self.lock = threading.Lock()

    def saved(self, owner: str) -> dict[int, Any]:
        with self.lock:
            return dict(self.values.get(owner, {}))

    def save(self, owner: str, values: Mapping[int, Any]) -> None:
        if not owner:
            return
        with self.lock:
            kept = {**self.values.pop(owner, {}), **values}
            self.values[owner] = kept  # newest last
            while len(self.values) > MAX_SESSIONS:
                del self.values[next(iter(self.values))]

    def add_pending(self, owner: str, changes: Changes) -> None:
        if not owner or not changes:
            return
        with self.lock:
            pending = self.pending.setdefault(owner, {})
            for component_id, change in changes.items():
                pending.setdefault(component_id, {}).update(change)
            while len(self.pending) > MAX_SESSIONS:
                del self.pending[next(iter(self.pending))]

    def take_pending(self, owner: str) -> Changes:
        with self.lock:
            return self.pending.pop(owner, {})


def environment(
    blocks: Blocks, saved: Mapping[int, Any], posted: Mapping[int, Any], history: list[dict[str, Any]]
) -> dict[int, Any]:
    """Every component's current value, by id (see the module's docstring for where each comes from)."""
    env: dict[int, Any] = {}
    for component in blocks.walk():
        if component.id in saved:
            env[component.id] = saved[component.id]
        elif isinstance(component, State):
            env[component.id] = component.initial()
        elif isinstance(component, FormComponent):
            env[component.id] = component.default()
        else:
            env[component.id] = component.value
    for component in _states(blocks):  # State(render=False) used only by events
        env.setdefault(component.id, saved.get(component.id, component.initial()))
    env.update(posted)
    if blocks.chatbot is not None:
        env[blocks.chatbot.id] = gradio_history(history)
    return env


def _states(blocks: Blocks) -> list[State]:
    """Every State an event reads or writes (placed in the layout or not)."""
    found = {id(c): c for e in blocks.events for c in [*e.inputs, *e.outputs] if isinstance(c, State)}
    return list(found.values())


def kept_values(blocks: Blocks, env: Mapping[int, Any]) -> dict[int, Any]:
    """What is kept per session after an event: State values, and display components' values
    where an output changed them (the others are their components' own)."""
    kept = {c.id: env[c.id] for c in _states(blocks) if c.id in env}
    for component in blocks.walk():
        if isinstance(component, FormComponent | Chatbot | State) or component.id not in env:
            continue
        if env[component.id] is not component.value:
            kept[component.id] = env[component.id]
    return kept


def run_steps(
    blocks: Blocks, steps: list[Step], env: dict[int, Any], data: Any, changes: Changes
) -> Iterator[Step]:
    """Run a chain; after each value a handler gives (assigned to ``env`` and ``changes``), yield its step."""
    for step in steps:
        if step.fn is None:
            continue
        args = event_args(step.fn, [env.get(c.id, getattr(c, "value", None)) for c in step.inputs], data)
        outputs = iterate_outputs(step.fn, *args)
        try:
            for output in outputs:
                assign(step, output, env, changes)
                yield step
        finally:
            outputs.close()
        if blocks.chatbot is not None and blocks.chatbot in step.outputs:
            env[blocks.chatbot.id] = as_gradio(env[blocks.chatbot.id])


def assign(step: Step, output: Any, env: dict[int, Any], changes: Changes) -> None:
    """Store a handler's output in its output components (Gradio's rules for one output, a tuple
    for several, or a dict keyed by component)."""
    outputs = step.outputs
    if not outputs:
        return
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
    for component, raw in pairs:
        change = _change(raw)
        if "value" in change:
            value = change["value"]
            if not isinstance(component, Chatbot | State):
                try:
                    value = component.postprocess(value)  # type: ignore[attr-defined]
                except (ValueError, TypeError, OSError) as error:
                    raise Error(f"{_what(component)}: {error}") from None
            elif isinstance(component, Chatbot) and isinstance(value, Mapping):
                value = value.get("value")
            env[component.id] = value
            change["value"] = value
        changes.setdefault(component.id, {}).update(change)


def _change(raw: Any) -> dict[str, Any]:
    """What one output value changes: ``gr.update(...)`` and a returned component change what they
    name (Gradio's other properties, e.g. ``feedback_value``, are ignored); anything else is the value."""
    if isinstance(raw, Mapping) and raw.get("__type__") == "update":
        return {k: v for k, v in raw.items() if k in UPDATABLE}
    if isinstance(raw, Component):
        return {k: v for k, v in raw.given.items() if k in UPDATABLE}
    return {"value": raw}


def _what(component: Any) -> str:
    return getattr(component, "label", None) or f"gr.{type(component).__name__}"


def as_gradio(value: Any) -> list[dict[str, Any]]:
    """A Chatbot value as the next handler receives it: Gradio 6's normalised messages."""
    messages = [m.to_dict() for item in value or [] for m in to_messages(item)]
    return gradio_history(messages)


class BlocksChat:
    """The chat function of a Blocks app's chat events: runs the handlers of the event that sent
    the message; what they give the Chatbot becomes the reply.

    Called as ``(message, history, trigger, owner, *form_values)``: which event ("submit" or
    "event:<index>"), whose session, and the posted values of the layout's other form components
    in order. A ChatInterface's chat function (a step marked ``reply``) gives the reply itself.
    """

    def __init__(self, blocks: Blocks) -> None:
        self.blocks = blocks
        self.sessions = Sessions()
        # Per trigger, at most its limit of replies at once (Blocks.trigger_limit), made on first use.
        self.slots: dict[str, threading.BoundedSemaphore | None] = {}
        self.slots_lock = threading.Lock()

    def _slots(self, trigger: str) -> threading.BoundedSemaphore | None:
        with self.slots_lock:
            if trigger not in self.slots:
                limit = self.blocks.trigger_limit(trigger)
                self.slots[trigger] = threading.BoundedSemaphore(limit) if limit else None
            return self.slots[trigger]

    def __call__(
        self,
        message: Any,
        history: list[dict[str, Any]],
        trigger: str = "submit",
        owner: str = "",
        *values: Any,
    ) -> Iterator[Any]:
        """Without a trigger and values (a caller with no form, such as the API), Enter's handlers
        run with the inputs' defaults."""
        blocks = self.blocks
        assert blocks.chatbot is not None and blocks.composer is not None
        chatbot = blocks.chatbot
        values = (*values, *(c.default() for c in blocks.form_inputs[len(values) :]))
        steps = blocks.trigger_steps(trigger)
        if not steps and trigger == "submit":  # no Enter handler: a caller without a page gets a button's
            steps = next((e.steps for e in blocks.events if e.index in blocks.chat_events), [])
        if not steps:
            raise Error("This page is out of date: reload it, then send again.")
        chat = gradio_history(history)
        posted = {c.id: v for c, v in zip(blocks.form_inputs, values, strict=False)}
        posted[blocks.composer.id] = message
        env = environment(blocks, self.sessions.saved(owner), posted, history)
        data = None
        if trigger == "retry":
            # Gradio's retry handlers get the Chatbot up to the user's message, and its place.
            env[chatbot.id] = gradio_history([*history, *user_messages(message)])
            data = RetryData(index=len(chat), value=env[chatbot.id][-1]["content"])
        changes: Changes = {}
        reply: Any = []  # the reply so far
        slots = self._slots(trigger)
        if slots is not None:
            slots.acquire()
        try:
            for step in steps:
                if step.reply:
                    for reply in self._reply(step, env, chat, message, changes):
                        self._hand_over(owner, changes)
                        yield reply
                    continue
                for _ in run_steps(blocks, [step], env, data, changes):
                    if chatbot.id in changes:
                        reply = strip_echo(list(env[chatbot.id] or []), chat, message)
                    if self._hand_over(owner, changes) or chatbot.id in changes:
                        # The reply again when only other outputs changed: the turn publishes
                        # it, so the reply's socket wakes and draws them (live_outputs).
                        yield reply
                    changes.pop(chatbot.id, None)
        finally:
            if slots is not None:
                slots.release()
            self.sessions.save(owner, kept_values(blocks, env))
            self._hand_over(owner, changes)

    def _hand_over(self, owner: str, changes: Changes) -> bool:
        """Move what the handlers changed besides the Chatbot to the session's pending outputs
        (drawn while the reply streams, and at its end); True if there was any."""
        chatbot = self.blocks.chatbot
        others = {k: v for k, v in changes.items() if chatbot is None or k != chatbot.id}
        for component_id in others:
            del changes[component_id]
        self.sessions.add_pending(owner, others)
        return bool(others)

    def _reply(
        self, step: Step, env: dict[int, Any], chat: list[dict[str, Any]], message: Any, changes: Changes
    ) -> Iterator[Any]:
        """A ChatInterface's chat function: its outputs are the reply (and, with
        ``additional_outputs``, a tuple of the reply and their values)."""
        assert step.fn is not None and self.blocks.chatbot is not None
        args = [env.get(c.id) for c in step.inputs]
        reply: Any = None
        outputs = iterate_outputs(step.fn, *args)
        try:
            for output in outputs:
                if len(step.outputs) > 1:
                    parts = output if isinstance(output, tuple) else (output,)
                    reply = parts[0]
                    extra = Step(None, step.outputs[1:], step.outputs[1:])
                    assign(extra, parts[1:] if len(parts) > 2 else (parts[1:] or (None,))[0], env, changes)
                else:
                    reply = output
                yield reply
        finally:
            outputs.close()
        replied = [m.to_dict() for m in (to_messages(reply) if reply is not None else [])]
        env[self.blocks.chatbot.id] = gradio_history([*chat, *user_messages(message), *replied])

    def liked(self, index: int, value: Any, liked: bool | str) -> None:
        """Run the Chatbot.like handlers with Gradio's LikeData (``liked``: a further option's name)."""
        data = LikeData(index=index, value=value, liked=liked)
        for event in self.blocks.events:
            if event.kind == "like":
                for step in event.steps:
                    if step.fn is not None:
                        for _ in iterate_outputs(step.fn, *event_args(step.fn, [], data)):
                            pass


def user_messages(message: Any) -> list[dict[str, Any]]:
    """The user's message as message dicts: its files (a text-and-files message), then its text."""
    if isinstance(message, Mapping):
        files = [{"role": "user", "content": {"path": str(f)}} for f in message.get("files") or []]
        text = message.get("text") or ""
        return [*files, *([{"role": "user", "content": text}] if text else [])]
    return [{"role": "user", "content": message}]


class EventRuns:
    """Page events whose handlers yield, running on after the request that started them: each
    value is handed to whoever follows the run (the page's socket), then the end. A run nobody
    follows is dropped once MAX_RUNS newer ones exist."""

    def __init__(self) -> None:
        self.runs: dict[str, tuple[str, queue.Queue[EventOutcome]]] = {}
        self.lock = threading.Lock()

    def start(self, owner: str, run: Callable[[Callable[[EventOutcome], None]], EventOutcome]) -> str:
        """Start ``run(emit)`` in the background; it calls ``emit`` with each value's outcome and
        returns the end's. Returns the run's id."""
        run_id = secrets.token_urlsafe(12)
        outcomes: queue.Queue[EventOutcome] = queue.Queue()
        with self.lock:
            self.runs[run_id] = (owner, outcomes)
            while len(self.runs) > MAX_RUNS:
                del self.runs[next(iter(self.runs))]

        def work() -> None:
            try:
                end = run(outcomes.put)
            except Exception as error:  # _run says a handler's failure itself; this is ours
                log.exception("a page event failed")
                end = EventOutcome(error=describe(error))
            outcomes.put(end)

        start_background(work, (), "webchat-event")
        return run_id

    def follow(self, run_id: str, owner: str) -> Iterator[EventOutcome]:
        with self.lock:
            owned, outcomes = self.runs.get(run_id, ("", None))
        if outcomes is None or owned != owner:
            return
        while True:
            try:
                outcome = outcomes.get(timeout=FOLLOW_SECONDS)
            except queue.Empty:
                yield EventOutcome(error="This event took too long and was left running.")
                break
            yield outcome
            if not outcome.partial:
                break
        with self.lock:
            self.runs.pop(run_id, None)


class PageEvents:
    """The events that do not send a message, run in the request the page sends for them (or,
    when their handlers yield, run on: :class:`EventRuns`)."""

    def __init__(self, blocks: Blocks, sessions: Sessions) -> None:
        self.blocks = blocks
        self.sessions = sessions
        self.runs = EventRuns()

    def run(
        self, index: int, form: Mapping[str, Any], owner: str, history: list[dict[str, Any]]
    ) -> EventOutcome:
        """Run event ``index`` with the posted ``form``; bad input or a failing handler is said in
        the outcome (next to the component), and changes nothing."""
        event = self.blocks.event(index)
        if event is None or index in self.blocks.chat_events or event.kind == "like":
            return EventOutcome(error="This page is out of date: reload it, then try again.")
        try:
            posted = self._posted(event, form)
        except InputError as error:
            return EventOutcome(error=error.message, error_at=getattr(error, "component", None))
        data = self._data(event, posted)
        if any(_yields(step.fn) for step in event.steps):
            run = partial(self._run, [event], posted, owner, history, data)
            return EventOutcome(stream=self.runs.start(owner, lambda emit: run(on_value=emit)))
        return self._run([event], posted, owner, history, data)

    def follow(self, run_id: str, owner: str) -> Iterator[EventOutcome]:
        """See :meth:`webchat.web.page.Program.follow`."""
        return self.runs.follow(run_id, owner)

    def load(self, owner: str, history: list[dict[str, Any]], form: Mapping[str, Any]) -> EventOutcome:
        """Run every ``demo.load`` handler (a page was loaded)."""
        events = self.blocks.loads
        if not events:
            return EventOutcome()
        try:
            posted = self._posted_all(events, form)
        except InputError as error:
            return EventOutcome(error=error.message, error_at=getattr(error, "component", None))
        outcome = self._run(events, posted, owner, history, None)
        if outcome.chat is not None and history:
            outcome.chat = None  # a stored conversation is not produced again on reload
        return outcome

    def chatbot(
        self, kind: str, form: Mapping[str, Any], owner: str, history: list[dict[str, Any]]
    ) -> EventOutcome:
        """One of the Chatbot's own events ("undo", "retry", "edit", "clear", "option_select",
        "example_select"), run with Gradio's event data for it, taken from the posted form and
        the conversation. As in Gradio's page, "clear" and "edit" change the Chatbot's value
        themselves before the handlers run; the others change only what the handlers give."""
        chatbot = self.blocks.chatbot
        if chatbot is None:
            return EventOutcome(error="This page is out of date: reload it, then try again.")
        events = self.blocks.listeners(chatbot, kind)
        try:
            data, changed = _chatbot_data(kind, chatbot, form, history)
            posted = self._posted_all(events, form)
        except InputError as error:
            return EventOutcome(error=error.message, error_at=getattr(error, "component", None))
        return self._run(events, posted, owner, history, data, chat_value=changed)

    def unload(self) -> None:
        """Run the ``demo.unload`` handlers (a visitor's page was closed); a failure is logged."""
        for event in self.blocks.unloads:
            for step in event.steps:
                if step.fn is None:
                    continue
                try:
                    for _ in iterate_outputs(step.fn):
                        pass
                except Exception:
                    log.exception("an unload handler failed")

    def live(self, owner: str) -> EventOutcome:
        """What the chat event streaming for ``owner`` has changed besides the Chatbot since last
        asked (drawn on the reply's socket); the Chatbot's .change listeners wait for its end."""
        return EventOutcome(shown=self._shown(self.sessions.take_pending(owner)))

    def pending(self, owner: str, history: list[dict[str, Any]]) -> EventOutcome:
        """The outputs of the chat event that just ended, with the Chatbot's .change listeners."""
        changes = self.sessions.take_pending(owner)
        chatbot = self.blocks.chatbot
        events = self.blocks.listeners(chatbot, "change") if chatbot is not None else []
        env = environment(self.blocks, self.sessions.saved(owner), {}, history)
        try:
            for event in events:
                for _ in run_steps(self.blocks, event.steps, env, None, changes):
                    pass
        except Exception as error:  # a handler's failure is said on the page, as Gradio does
            return EventOutcome(error=_failure(error), shown=self._shown(changes))
        self.sessions.save(owner, kept_values(self.blocks, env))
        return EventOutcome(shown=self._shown(changes))

    # Running

    def _run(
        self,
        events: list[Event],
        posted: dict[int, Any],
        owner: str,
        history: list[dict[str, Any]],
        data: Any,
        chat_value: list[dict[str, Any]] | None = None,
        on_value: Callable[[EventOutcome], None] | None = None,
    ) -> EventOutcome:
        """Run the events' handlers; ``chat_value``: the Chatbot's new value before they run (the
        page changed it: an edit, a clear); ``on_value`` hears what each value a handler gives
        has changed so far (the Chatbot only at the end)."""
        blocks = self.blocks
        env = environment(blocks, self.sessions.saved(owner), posted, history)
        changes: Changes = {}
        if chat_value is not None and blocks.chatbot is not None:
            env[blocks.chatbot.id] = chat_value
            changes[blocks.chatbot.id] = {"value": chat_value}
        trigger = getattr(events[0].trigger, "id", None) if events else None
        try:
            for event in events:
                for _ in run_steps(blocks, event.steps, env, data, changes):
                    if on_value is not None:
                        on_value(self._partial(env, changes))
            self._follow_changes(env, changes, {c for c in changes}, CHANGE_DEPTH)
            chat = None
            if blocks.chatbot is not None and "value" in changes.get(blocks.chatbot.id, {}):
                chat = blocks.chatbot.postprocess(env[blocks.chatbot.id])
        except Exception as error:  # bad input from a handler, or its failure: said, nothing stored
            return EventOutcome(error=_failure(error), error_at=trigger)
        self.sessions.save(owner, kept_values(blocks, env))
        return EventOutcome(shown=self._shown(changes), chat=chat)

    def _partial(self, env: dict[int, Any], changes: Changes) -> EventOutcome:
        """What a yielding event has changed so far: its outputs, and the Chatbot's messages when
        it set them (drawn, not stored: the event's end stores them)."""
        chatbot = self.blocks.chatbot
        chat = None
        if chatbot is not None and "value" in changes.get(chatbot.id, {}):
            chat = chatbot.postprocess(env[chatbot.id])
        return EventOutcome(shown=self._shown(changes), chat=chat, partial=True)

    def _follow_changes(self, env: dict[int, Any], changes: Changes, changed: set[int], depth: int) -> None:
        """Outputs that changed a component's value fire its .change listeners, as in Gradio."""
        if depth <= 0 or not changed:
            return
        newly: Changes = {}
        for component in self.blocks.walk():
            if component.id in changed and "value" in changes.get(component.id, {}):
                for event in self.blocks.listeners(component, "change"):
                    for _ in run_steps(self.blocks, event.steps, env, None, newly):
                        pass
        for component_id, change in newly.items():
            changes.setdefault(component_id, {}).update(change)
        self._follow_changes(env, changes, set(newly), depth - 1)

    def _posted(self, event: Event, form: Mapping[str, Any]) -> dict[int, Any]:
        return self._posted_all([event], form)

    def _posted_all(self, events: list[Event], form: Mapping[str, Any]) -> dict[int, Any]:
        """The posted values of the form components the events read (and of their triggers)."""
        wanted = {id(c) for e in events for c in [*e.inputs, e.trigger]}
        posted: dict[int, Any] = {}
        composer = self.blocks.composer
        for component in [*self.blocks.form_inputs, *([composer] if composer else [])]:
            if id(component) not in wanted or not component.editable:
                continue
            name = "text" if component is composer else component.name
            try:
                posted[component.id] = component.parse(form, name)
            except InputError as error:
                error.component = component.id  # type: ignore[attr-defined]
                raise
        return posted

    def _data(self, event: Event, posted: Mapping[int, Any]) -> Any:
        trigger = event.trigger
        if event.kind == "select" and isinstance(trigger, _Choices):
            value = posted.get(trigger.id)
            values = trigger.values
            index = values.index(value) if value in values else value if isinstance(value, int) else -1
            return SelectData(index=index, value=value)
        return None

    def _shown(self, changes: Changes) -> list[Any]:
        """The output components as they now look (copies with their changes), in layout order."""
        shown = []
        for component in self.blocks.walk():
            change = changes.get(component.id)
            if change and not isinstance(component, State | Chatbot):
                shown.append(component.updated({k: v for k, v in change.items()}))
        return shown


def _chatbot_data(
    kind: str, chatbot: Chatbot, form: Mapping[str, Any], history: list[dict[str, Any]]
) -> tuple[Any, list[dict[str, Any]] | None]:
    """Gradio's event data for a Chatbot event from the posted form, and the Chatbot's value when
    the page itself changes it (None: unchanged). InputError when the form names nothing valid.
    An edit names its message by its place in ``history`` (``message_index``); Gradio's index is
    its place in the Chatbot's value, where a user's files and text are one message."""
    value = gradio_history(history)
    if kind in ("undo", "retry"):
        users = [i for i, m in enumerate(value) if m["role"] == "user"]
        if not users:
            raise InputError("There is no message to " + kind + " yet.")
        index = users[-1]
        made = UndoData if kind == "undo" else RetryData
        return made(index=index, value=value[index]["content"]), None
    if kind == "clear":
        return None, []
    if kind == "edit":
        position = _posted_int(form, "message_index", len(history))
        index = len(gradio_history(history[: position + 1])) - 1
        message, text = value[index], str(form.get("text", ""))
        if not text.strip():
            raise InputError("The edited message is empty; type something or cancel.")
        if chatbot.edits != "all" and message["role"] != "user":
            raise InputError("Only your own messages can be edited here.")
        blocks = message["content"]
        previous = next((b["text"] for b in blocks if b.get("type") == "text"), "")
        edited = [dict(m) for m in value]
        edited[index]["content"] = [
            *(b for b in blocks if b.get("type") != "text"),
            {"text": text, "type": "text"},
        ]
        return EditData(index=index, value=text, previous_value=previous), edited
    if kind == "option_select":
        # The option by its place under its message and its value (any message's options show).
        index = _posted_int(form, "option", 1 << 16)
        chosen = str(form.get("value", ""))
        for message in reversed(value):
            options = message.get("options") or []
            if index < len(options) and str(options[index].get("value")) == chosen:
                return SelectData(index=index, value=options[index].get("value")), None
        raise InputError("This page is out of date: reload it, then try again.")
    if kind == "example_select":
        index = _posted_int(form, "example", len(chatbot.examples))
        example = chatbot.examples[index]
        return SelectData(index=index, value={"text": example["text"], "files": example["files"]}), None
    raise InputError("This page is out of date: reload it, then try again.")


def _posted_int(form: Mapping[str, Any], name: str, count: int) -> int:
    """A posted position among ``count`` things; InputError when it is not one."""
    raw = str(form.get(name, ""))
    if not raw.isdigit() or int(raw) >= count:
        raise InputError("This page is out of date: reload it, then try again.")
    return int(raw)


def _yields(fn: Any) -> bool:
    """Does this handler give its values one by one (a generator)?"""
    return inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)


def _failure(error: BaseException) -> str:
    if isinstance(error, Error):
        return error.message
    return describe(error)
