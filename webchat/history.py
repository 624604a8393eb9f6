"""The ``history`` a chat function receives: read once per conversation, then only extended.

Gradio hands a chat function the whole conversation. Reading and decoding it for every turn made
the start of a reply grow with the conversation (~100 ms at 5000 messages). This keeps the
decoded messages of recent conversations; each turn checks them against the database with one
aggregate query and reads only the messages added since. Every turn gets its own copies, so a
chat function that edits its history changes nothing for the next turn; they are made when the
previous reply ends (``prepare``), so a reply does not start by copying the whole conversation.
"""

from __future__ import annotations

import bisect
import copy
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from webchat.store import Store

# Decoded messages kept in all (a 5000-message conversation is ~5 MB of dicts).
KEEP_MESSAGES = 20_000
# Conversations at least this long get the next reply's copies made when a reply ends (~0.4 µs
# a message, against ~1 ms of queries to bring the cached history up to date first).
PREPARE_FROM = 500


@dataclass
class _Entry:
    ids: list[int] = field(default_factory=list)
    items: list[dict[str, Any] | None] = field(default_factory=list)  # None: an empty error row
    count: int = 0
    newest: float | None = None
    rev: int = 0  # the conversation's branch_rev when read: another branch selected since is stale
    # Copies of the first items, made after a reply ended and not yet handed to anyone.
    spare: list[dict[str, Any] | None] | None = None
    # Held while reading or copying, so a reply starting while the last one's copies are being
    # made waits for them instead of reading the whole conversation again.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def forget(self) -> None:
        self.ids, self.items, self.count, self.newest, self.spare, self.rev = [], [], 0, None, None, 0


def history_item(data: str, status: str) -> dict[str, Any] | None:
    """A stored message as the plain dict a chat function gets; None for an empty error row."""
    item = json.loads(data)
    if status != "complete" and item.get("content") == "":
        return None
    item.setdefault("metadata", {})
    item.setdefault("options", [])
    return item


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    """A copy the chat function may change freely (run for every message of every turn: lean)."""
    metadata, options, content = item["metadata"], item["options"], item["content"]
    return {
        **item,
        "metadata": {**metadata} if metadata else {},
        "options": [{**o} for o in options] if options else [],
        "content": content if content.__class__ is str else copy.deepcopy(content),
    }


class HistoryCache:
    """Conversation histories for chat functions, kept per process (each worker has its own)."""

    def __init__(
        self, store: Store, keep_messages: int = KEEP_MESSAGES, prepare_from: int = PREPARE_FROM
    ) -> None:
        self.store = store
        self.keep_messages = keep_messages
        self.prepare_from = prepare_from
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, conversation_id: str, before_id: int | None = None) -> list[dict[str, Any]]:
        """The conversation's history (the messages before ``before_id``, or all), as fresh dicts."""
        entry = self._entry(conversation_id)
        with entry.lock:
            self._refresh(conversation_id, entry)
            end = len(entry.ids) if before_id is None else bisect.bisect_left(entry.ids, before_id)
            spare, entry.spare = (entry.spare or [])[:end], None  # copies are handed out once
            result = [item for item in spare if item is not None]
            result += [_copy(item) for item in entry.items[len(spare) : end] if item is not None]
        self._trim()
        return result

    def prepare(self, conversation_id: str) -> None:
        """Copy the history for the next reply now (after a reply, while its reader reads), so
        that the next reply starts without copying the whole conversation first. A short
        conversation is left alone: copying it costs less than looking at the database again."""
        with self._lock:
            known = self._entries.get(conversation_id)
        if known is None or len(known.ids) < self.prepare_from:
            return
        entry = self._entry(conversation_id)
        with entry.lock:
            self._refresh(conversation_id, entry)
            spare = entry.spare or []
            spare += [None if item is None else _copy(item) for item in entry.items[len(spare) :]]
            entry.spare = spare
        self._trim()

    def _entry(self, conversation_id: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(conversation_id)
            if entry is None:
                entry = self._entries[conversation_id] = _Entry()
            self._entries.move_to_end(conversation_id)
            return entry

    def _refresh(self, conversation_id: str, entry: _Entry) -> None:
        """Check the entry against the database (call with its lock held), and extend it with
        the messages added since it was read."""
        count, newest, rev = self.store.messages_fingerprint(conversation_id, entry.last_id)
        if entry.ids and (count, newest, rev) != (entry.count, entry.newest, entry.rev):
            entry.forget()  # something before our newest message was deleted or replaced
        entry.rev = rev  # read before the rows: a change between the two is seen next time
        for row_id, created_at, data, status in self.store.history_rows(
            conversation_id, after_id=entry.last_id
        ):
            entry.ids.append(row_id)
            entry.items.append(history_item(data, status))
            entry.count += 1
            entry.newest = created_at if entry.newest is None else max(entry.newest, created_at)

    def _trim(self) -> None:
        """Forget the least recently used conversations beyond ``keep_messages`` in all."""
        with self._lock:
            total = sum(_size(e) for e in self._entries.values())
            while total > self.keep_messages and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                total -= _size(dropped)


def _size(entry: _Entry) -> int:
    return len(entry.ids) + len(entry.spare or ())
