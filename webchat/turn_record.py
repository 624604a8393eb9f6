"""The record of one turn: the request that went to the model server and what came back.

For each reply of a built-in model (webchat.backends.inference) the page shows, and the API
exports, the exact request (endpoint, model, parameters, the messages as sent, files as their
FileData references rather than their bytes), the usage the server reported, timings (time to
first token, tokens per second, total), the finish reason and any error.

The runner opens an empty record around the chat function (:func:`recording`); a chat function
that talks to a model server fills the one of the turn it runs (:func:`current`), and the runner
adds the error as the reply says it (never a traceback) and stores it when the turn ends. A
Python chat function leaves it empty, and nothing is stored.

A record never holds a secret: no headers, no API key, and an endpoint without ``user:password@``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_current: ContextVar[TurnRecord | None] = ContextVar("webchat_turn_record", default=None)


@dataclass
class TurnRecord:
    """What one turn asked of its model server, and how the answer went (times in seconds)."""

    endpoint: str = ""
    model: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    first_token_seconds: float | None = None
    tokens_per_second: float | None = None
    total_seconds: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    # The model's name in the page (the models file's), when a conversation could pick one.
    model_name: str | None = None
    # Each tool call of the turn: id, tool, arguments, result, error, seconds (webchat.backends.tool_calls).
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    # The oldest messages left out so that the request fits the model's context (its context_length).
    dropped_messages: int = 0
    started: float = field(default=0.0, repr=False)
    # Not part of the record: the conversation whose turn this is, and the name an error gives
    # the server (webchat.backends.models.RoutedChat sets it to the model that answered).
    conversation_id: str = field(default="", repr=False)
    server: str | None = field(default=None, repr=False)
    # Asks the person whether a tool call may run (call id, tool, arguments) -> allowed; the runner's.
    approve: Callable[[str, str, dict[str, Any]], bool] | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return not self.endpoint

    def sent(
        self, endpoint: str, model: str | None, parameters: dict[str, Any], messages: list[dict[str, Any]]
    ) -> None:
        """The request, as it goes to the server (the clock starts)."""
        self.endpoint = without_credentials(endpoint)
        self.model = model
        self.parameters = {k: v for k, v in parameters.items() if v is not None}
        self.messages = messages
        self.started = time.monotonic()

    def first_token(self) -> None:
        if self.first_token_seconds is None and self.started:
            self.first_token_seconds = round(time.monotonic() - self.started, 4)

    def ended(self, *, tokens: int, usage: dict[str, Any] | None, finish_reason: str | None) -> None:
        """The stream ended: ``tokens`` counted here (a chunk each) when the server reports no usage."""
        if not self.started:
            return
        self.total_seconds = round(time.monotonic() - self.started, 4)
        self.usage = usage or ({"completion_tokens": tokens, "counted": True} if tokens else None)
        self.finish_reason = finish_reason
        completion = (self.usage or {}).get("completion_tokens") or 0
        streaming = self.total_seconds - (self.first_token_seconds or 0.0)
        if completion and streaming > 0:
            self.tokens_per_second = round(completion / streaming, 2)

    def failed(self, error: str) -> None:
        self.error = error
        if self.started and self.total_seconds is None:
            self.total_seconds = round(time.monotonic() - self.started, 4)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for private in ("started", "conversation_id", "server", "approve"):
            del data[private]
        for optional in ("model_name", "tool_calls", "dropped_messages"):
            if not data[optional]:
                del data[optional]
        return data


def current() -> TurnRecord | None:
    """The record of the turn being run here (None outside a turn, e.g. the completions API)."""
    return _current.get()


@contextmanager
def recording(conversation_id: str = "") -> Iterator[TurnRecord]:
    """An empty record of a turn of this conversation, current while the turn's chat function
    runs in this context."""
    record = TurnRecord(conversation_id=conversation_id)
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part (a model id is returned as it is)."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
