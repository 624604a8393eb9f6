"""Messages waiting for the reply being written: sent while their conversation had a running turn,
each becomes a turn of its own once the conversation has none, oldest first.

Taking the next one deletes its row: of two workers (or a runner and a page) that reach for it at
once, only the one whose delete removed the row starts it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select

from webchat.messages import ChatMessage, messages_from_list
from webchat.store.schema import queued_messages


@dataclass(frozen=True)
class Queued:
    """One waiting message: its messages (files, then text) and the extra values of its turn."""

    id: int
    ref: str
    conversation_id: str
    owner: str
    messages: list[ChatMessage]
    extra: tuple[Any, ...]
    created_at: float

    @property
    def text(self) -> str:
        return next((m.content for m in self.messages if isinstance(m.content, str)), "")

    @property
    def files(self) -> list[ChatMessage]:
        return [m for m in self.messages if not isinstance(m.content, str)]


class QueuedStore:
    """Reads and writes the ``queued_messages`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, conversation_id: str, owner: str, messages: list[ChatMessage], extra: tuple[Any, ...]
    ) -> Queued:
        ref, now = secrets.token_urlsafe(9), time.time()
        row = {
            "conversation_id": conversation_id,
            "owner": owner,
            "ref": ref,
            "messages": json.dumps([m.to_dict() for m in messages], ensure_ascii=False),
            "extra": json.dumps(list(extra), ensure_ascii=False, default=str),
            "created_at": now,
        }
        with self.engine.begin() as db:
            row_id = db.execute(queued_messages.insert().values(**row)).inserted_primary_key[0]
        return Queued(int(row_id), ref, conversation_id, owner, list(messages), tuple(extra), now)

    def put_back(self, queued: Queued) -> None:
        """Return a message taken with :meth:`take_first` that could not start (same place)."""
        row = {
            "id": queued.id,
            "conversation_id": queued.conversation_id,
            "owner": queued.owner,
            "ref": queued.ref,
            "messages": json.dumps([m.to_dict() for m in queued.messages], ensure_ascii=False),
            "extra": json.dumps(list(queued.extra), ensure_ascii=False, default=str),
            "created_at": queued.created_at,
        }
        with self.engine.begin() as db:
            db.execute(queued_messages.insert().values(**row))

    def waiting(self, conversation_id: str) -> list[Queued]:
        """The conversation's waiting messages, oldest first."""
        query = (
            select(queued_messages)
            .where(queued_messages.c.conversation_id == conversation_id)
            .order_by(queued_messages.c.id)
        )
        with self.engine.connect() as db:
            return [_queued(row) for row in db.execute(query)]

    def count(self, conversation_id: str) -> int:
        query = select(func.count()).where(queued_messages.c.conversation_id == conversation_id)
        with self.engine.connect() as db:
            return int(db.execute(query).scalar() or 0)

    def take_first(self, conversation_id: str) -> Queued | None:
        """The oldest waiting message, removed from the queue; None when there is none, or when
        another caller took it first."""
        first = next(iter(self.waiting(conversation_id)), None)
        if first is None or not self._delete(queued_messages.c.id == first.id):
            return None
        return first

    def remove(self, conversation_id: str, ref: str) -> bool:
        """Take a waiting message out (its sender removed it); False if it is not waiting."""
        return self._delete(
            (queued_messages.c.ref == ref) & (queued_messages.c.conversation_id == conversation_id)
        )

    def clear(self, conversation_id: str) -> int:
        return self._delete(queued_messages.c.conversation_id == conversation_id)

    def _delete(self, where: Any) -> int:
        with self.engine.begin() as db:
            return db.execute(delete(queued_messages).where(where)).rowcount or 0


def _queued(row: Any) -> Queued:
    return Queued(
        row.id,
        row.ref,
        row.conversation_id,
        row.owner,
        messages_from_list(json.loads(row.messages)),
        tuple(json.loads(row.extra)),
        row.created_at,
    )
