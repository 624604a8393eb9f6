"""Records of the files kept in the data folder: who owns each one and what it really is.

The bytes live on disk (see :mod:`webchat.files.storage`); a row here is what makes a file servable.
A file nobody owns cannot be fetched, so every lookup takes the owner.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, select, update

from webchat.store.schema import conversations, files

FileOrigin = Literal["upload", "reply"]


@dataclass(frozen=True)
class FileRecord:
    id: str
    owner: str
    conversation_id: str | None
    name: str
    mime_type: str
    size: int
    origin: FileOrigin
    created_at: float


class FileRecords:
    """Reads and writes the ``files`` table (created with the other tables by ``Store``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, *records: FileRecord) -> None:
        """Record files, all in one transaction."""
        if not records:
            return
        with self.engine.begin() as db:
            db.execute(
                files.insert(),
                [
                    {
                        "id": r.id,
                        "owner": r.owner,
                        "conversation_id": r.conversation_id,
                        "name": r.name,
                        "mime_type": r.mime_type,
                        "size": r.size,
                        "origin": r.origin,
                        "created_at": r.created_at or time.time(),
                    }
                    for r in records
                ],
            )

    def get(self, owner: str, file_id: str) -> FileRecord | None:
        """The file if ``owner`` has it; None for anybody else's, so ids don't leak."""
        query = select(files).where(files.c.id == file_id, files.c.owner == owner)
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return _record(row._mapping) if row else None

    def get_any(self, file_id: str) -> FileRecord | None:
        """The file whoever owns it: for server-side code only (a chat function's own files)."""
        with self.engine.connect() as db:
            row = db.execute(select(files).where(files.c.id == file_id)).first()
        return _record(row._mapping) if row else None

    def total_size(self, owner: str, origin: FileOrigin = "upload") -> int:
        query = select(func.coalesce(func.sum(files.c.size), 0)).where(
            files.c.owner == owner, files.c.origin == origin
        )
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    def link(self, file_ids: Iterable[str], conversation_id: str) -> None:
        """Say which conversation the files were sent in (known only once the message is stored)."""
        ids = list(file_ids)
        if not ids:
            return
        with self.engine.begin() as db:
            db.execute(update(files).where(files.c.id.in_(ids)).values(conversation_id=conversation_id))

    def orphans(self, unsent_before: float) -> list[FileRecord]:
        """Files nothing can show any more: their conversation was purged, or they were uploaded
        before ``unsent_before`` for a message that was never stored."""
        gone = files.c.conversation_id.is_not(None) & files.c.conversation_id.not_in(
            select(conversations.c.id)
        )
        unsent = files.c.conversation_id.is_(None) & (files.c.created_at < unsent_before)
        with self.engine.connect() as db:
            return [_record(row._mapping) for row in db.execute(select(files).where(gone | unsent))]

    def remove(self, file_ids: Iterable[str]) -> None:
        ids = list(file_ids)
        if not ids:
            return
        with self.engine.begin() as db:
            db.execute(delete(files).where(files.c.id.in_(ids)))


def _record(row: Any) -> FileRecord:
    return FileRecord(
        id=row["id"],
        owner=row["owner"],
        conversation_id=row["conversation_id"],
        name=row["name"],
        mime_type=row["mime_type"],
        size=row["size"],
        origin=row["origin"],
        created_at=row["created_at"],
    )
