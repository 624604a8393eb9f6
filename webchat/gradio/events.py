"""Events: what a listener (``Textbox.submit``, ``Button.click``, ``Chatbot.like``, ``.then``)
records on the Blocks being built, and the event data Gradio passes to handlers.

A listener adds an :class:`Event` (its trigger and kind) with one :class:`Step` per handler of
its ``.then`` chain; the Blocks checks them when its ``with`` block ends, and its runner
(:mod:`webchat.gradio.runner`) runs them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from webchat.errors import UnsupportedError
from webchat.gradio import context
from webchat.gradio.context import Block


@dataclass(frozen=True)
class LikeData:
    """``index``: the message's position in the conversation (as in ``history``); ``value``: its
    content; ``liked``: True for like, False for dislike."""

    index: int
    value: Any
    liked: bool = True


@dataclass(frozen=True)
class RetryData:
    """Gradio's data for ``chatbot.retry``: the message retried (its position and content)."""

    index: int
    value: Any


@dataclass(frozen=True)
class UndoData:
    """Gradio's data for ``chatbot.undo``: the message undone (its position and content)."""

    index: int
    value: Any


@dataclass(frozen=True)
class EditData:
    """Gradio's data for ``chatbot.edit``: the message edited, its new and its previous text."""

    index: int
    value: Any
    previous_value: Any = None


@dataclass(frozen=True)
class SelectData:
    """Gradio's data for ``.select``: what was selected (its position and value)."""

    index: int | tuple[int, int]
    value: Any
    selected: bool = True


@dataclass
class Step:
    fn: Callable[..., Any] | None
    inputs: list[Block]
    outputs: list[Block]


@dataclass
class Event:
    trigger: Block
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


def _components(value: Any, what: str) -> list[Block]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    if isinstance(value, set):
        raise UnsupportedError(f"event {what} given as a set are not supported by webchat: pass a list")
    for item in items:
        if not isinstance(item, Block):
            raise UnsupportedError(
                f"gr.{type(item).__name__} in an event's {what} is not supported by webchat's Blocks subset"
            )
    return list(items)


def listen(trigger: Block, kind: str, fn: Any, inputs: Any, outputs: Any) -> Dependency:
    blocks = trigger.blocks or context.current_blocks()
    if blocks is None:
        raise UnsupportedError(f"{trigger!r}.{kind}() must be called inside `with gr.Blocks():`")
    event = Event(trigger, kind)
    event.steps.append(Step(fn, _components(inputs, "inputs"), _components(outputs, "outputs")))
    blocks.events.append(event)
    return Dependency(event)


EventData = LikeData  # the only event data webchat's handlers receive


def validate(is_valid: bool, message: str) -> dict[str, Any]:
    """Gradio's ``gr.validate``: a validator's verdict on the inputs (``validator=`` functions)."""
    return {"__type__": "validate", "is_valid": is_valid, "message": message}


def update(**changes: Any) -> dict[str, Any]:
    """Gradio's ``gr.update(value=...)``: only ``value`` matters to webchat."""
    return {"__type__": "update", **changes}


def event_args(fn: Callable[..., Any], args: list[Any], data: Any) -> list[Any]:
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
