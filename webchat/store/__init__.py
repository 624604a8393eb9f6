"""Server-side storage of conversations, messages and turns."""

from webchat.store.sql import (
    Conversation,
    MessageKind,
    MessageStatus,
    Store,
    StoredMessage,
    Turn,
    TurnBusy,
    TurnStatus,
    new_id,
    sqlite_url,
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
