"""The runner of a Blocks chat layout: its events' handlers, run as one chat function.

Sending the message in the Textbox (or pressing a Button with a ``.click``) starts a turn whose
chat function is :class:`BlocksChat`: it runs the event's handlers in order, feeding each the
current values of its inputs, and whatever a handler returns or yields for the Chatbot becomes the
reply. State values live on the server, per browser session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from webchat.chat import gradio_history, iterate_outputs, strip_echo, to_messages
from webchat.errors import Error
from webchat.gradio.components import Component, State
from webchat.gradio.events import LikeData, Step, event_args

if TYPE_CHECKING:
    from webchat.gradio.blocks import Blocks

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

    def liked(self, index: int, value: Any, liked: bool) -> None:
        """Run the Chatbot.like handlers with Gradio's LikeData."""
        data = LikeData(index=index, value=value, liked=liked)
        for event in self.blocks.events:
            if event.kind == "like":
                for step in event.steps:
                    if step.fn is not None:
                        for _ in iterate_outputs(step.fn, *event_args(step.fn, [], data)):
                            pass

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
