"""Server-side storage of conversations, messages and turns: ``engine`` (the connection),
``migrate`` (the schema, brought up to date at start), ``schema``, ``records`` (what queries
return), ``queries`` (the Store), and the files, tokens and logins tables' own queries."""

from webchat.store.engine import sqlite_url
from webchat.store.queries import Store
from webchat.store.records import (
    Conversation,
    MessageKind,
    MessageStatus,
    StoredMessage,
    Turn,
    TurnBusy,
    TurnStatus,
    new_id,
    title_from,
)

__all__ = [
    "Conversation",
    "MessageKind",
    "MessageStatus",
    "Store",
    "StoredMessage",
    "Turn",
    "TurnBusy",
    "TurnStatus",
    "new_id",
    "sqlite_url",
    "title_from",
]
