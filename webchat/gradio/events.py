"""Events: what a listener (``Textbox.submit``, ``Button.click``, ``Dropdown.change``,
``Chatbot.retry``, ``demo.load``, ``.then``...) records on the Blocks being built, and the event
data Gradio passes to handlers.

A listener adds an :class:`Event` (its trigger, kind and number on the page) with one
:class:`Step` per handler of its ``.then`` chain; the Blocks checks them when its ``with`` block
ends, and :mod:`webchat.gradio.runtime` runs them. Gradio's scheduling options (``queue``,
``show_progress``, ``api_name``, ``concurrency_limit``, ``trigger_mode``...) are accepted: every
handler runs on the server as its event comes, and a chain's steps run in order.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webchat.errors import UnsupportedError
from webchat.gradio import context
from webchat.gradio.context import Block


@dataclass(frozen=True)
class LikeData:
    """``index``: the message's position in the conversation (as in ``history``); ``value``: its
    content; ``liked``: True for like, False for dislike, or the name of a further feedback option
    chosen (``gr.Chatbot(feedback_options=...)``), as in Gradio."""

    index: int
    value: Any
    liked: bool | str = True


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
    # A ChatInterface's chat function: it returns the reply, not the Chatbot's whole value.
    reply: bool = False


@dataclass
class Event:
    trigger: Any  # a component, or the Blocks itself for demo.load
    kind: str  # "submit", "click", "change", "load", "retry"... (Gradio's listener names)
    steps: list[Step] = field(default_factory=list)
    index: int = 0  # its place on the page: the event route's number
    # Gradio's concurrency_limit=N of the listener: at most N of its replies at once (chat events).
    concurrency_limit: int | None = None

    @property
    def outputs(self) -> list[Block]:
        return [c for step in self.steps for c in step.outputs]

    @property
    def inputs(self) -> list[Block]:
        return [c for step in self.steps for c in step.inputs]


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

    def failure(self, *_args: Any, **_options: Any) -> Dependency:
        raise UnsupportedError(
            ".failure() is not supported by webchat: a handler that raises shows its error on the page"
        )

    def __getattr__(self, name: str) -> Any:
        if name in ("change", "click", "submit"):
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


def listen(
    trigger: Any,
    kind: str,
    fn: Any,
    inputs: Any,
    outputs: Any,
    *,
    reply: bool = False,
    options: Mapping[str, Any] | None = None,
) -> Dependency:
    """Add an event: ``trigger``'s ``kind`` runs ``fn``. Of Gradio's listener ``options`` only
    ``concurrency_limit`` (a number) is used; the others (queue, show_progress...) are accepted."""
    blocks = getattr(trigger, "blocks", None) or context.current_blocks()
    if blocks is None:
        raise UnsupportedError(f"{trigger!r}.{kind}() must be called inside `with gr.Blocks():`")
    if fn is not None and not callable(fn):
        raise TypeError(f"{kind}(): the handler must be a function, not {type(fn).__name__}")
    limit = (options or {}).get("concurrency_limit")
    event = Event(trigger, kind, index=len(blocks.events))
    event.concurrency_limit = limit if isinstance(limit, int) and limit > 0 else None
    event.steps.append(Step(fn, _components(inputs, "inputs"), _components(outputs, "outputs"), reply))
    blocks.events.append(event)
    return Dependency(event)


@dataclass(frozen=True)
class EventData:
    """Gradio's base event data: what the event was about (its ``target`` component)."""

    target: Any = None
    _data: Any = None


def validate(is_valid: bool, message: str) -> dict[str, Any]:
    """Gradio's ``gr.validate``: a validator's verdict on the inputs (``validator=`` functions)."""
    return {"__type__": "validate", "is_valid": is_valid, "message": message}


def update(**changes: Any) -> dict[str, Any]:
    """Gradio's ``gr.update(value=..., visible=..., interactive=..., choices=...)``: the new value
    and properties of an output component (those not named stay as they are)."""
    return {"__type__": "update", **changes}


DATA_TYPES = ("LikeData", "EventData", "SelectData", "RetryData", "UndoData", "EditData", "DeletedFileData")


def event_args(fn: Callable[..., Any], args: list[Any], data: Any) -> list[Any]:
    """``args`` plus Gradio's event data, given wherever a parameter is annotated with one of
    Gradio's event data classes (``gr.LikeData``, ``gr.SelectData``, ``gr.EventData``...)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return args
    given = iter(args)
    result: list[Any] = []
    for parameter in parameters:
        annotation = parameter.annotation
        name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if name.rsplit(".", 1)[-1] in DATA_TYPES:
            result.append(data)
        elif parameter.kind is parameter.VAR_POSITIONAL:
            result.extend(given)
        else:
            value = next(given, _MISSING)
            if value is _MISSING:
                break
            result.append(value)
    result.extend(given)
    return result


_MISSING = object()
