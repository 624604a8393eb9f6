"""The records the store hands out: conversations, stored messages, turns, and their states."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from webchat.errors import Refused
from webchat.messages import ChatMessage

MessageStatus = Literal["complete", "stopped", "error", "interrupted"]
MessageKind = Literal["input", "reply"]
TurnStatus = Literal[
    "running", "done", "stopped", "error", "interrupted", "replaced", "undone", "edited", "cleared"
]
TITLE_LENGTH = 80


def new_id() -> str:
    """An unguessable id for URLs (72 random bits)."""
    return secrets.token_urlsafe(9)


@dataclass(frozen=True)
class Conversation:
    id: str
    owner: str
    title: str
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Any) -> Conversation:
        return cls(row.id, row.owner, row.title, row.created_at, row.updated_at)


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: str
    message: ChatMessage
    turn_id: str | None
    kind: MessageKind
    status: MessageStatus
    error: str | None
    feedback: int | None
    created_at: float
    ref: str = ""  # its id in URLs (random); ``id`` orders the conversation
    parent_id: int | None = None  # the message before it on its branch (webchat.store.tree)
    active: bool = True  # on the selected branch


@dataclass(frozen=True)
class Turn:
    id: str
    conversation_id: str
    owner: str
    status: TurnStatus
    created_at: float
    # The process producing it (webchat.turns.TurnRunner.id), once it stored a checkpoint.
    runner_id: str | None = None
    # A keyed hash of the client address it was started from (None: not from a page request).
    client: str | None = None
    # A retry: the turn whose input messages this one answers again.
    inputs_from: str | None = None


class TurnBusy(Refused):
    """The conversation already has a running turn (maybe started by another worker just now)."""

    status = 409

    def __init__(self) -> None:
        super().__init__("A reply is still being written. Wait for it, or stop it, then send.")


_MARKUP = re.compile(r"\*\*|__|`|^\s*(?:#{1,6}|>)\s*")


def title_from(text: str) -> str:
    """A conversation's title: its first message as plain words (bold, code and heading marks
    dropped), shortened."""
    line = " ".join(_MARKUP.sub("", text).split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"
