"""The ``history`` a chat function receives: read once per conversation, then only extended.

Gradio hands a chat function the whole conversation. Reading and decoding it for every turn made
the start of a reply grow with the conversation (~100 ms at 5000 messages). This keeps the
decoded messages of recent conversations; each turn checks them against the database with one
aggregate query and reads only the messages added since. Every turn gets its own copies, so a
chat function that edits its history changes nothing for the next turn.
"""

from __future__ import annotations

import bisect
import copy
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from webchat.store import Store

# Decoded messages kept in all (a 5000-message conversation is ~5 MB of dicts).
KEEP_MESSAGES = 20_000


@dataclass
class _Entry:
    ids: list[int]
    items: list[dict[str, Any] | None]  # None: an empty message that only carried an error
    count: int
    newest: float | None

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0


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

    def __init__(self, store: Store, keep_messages: int = KEEP_MESSAGES) -> None:
        self.store = store
        self.keep_messages = keep_messages
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, conversation_id: str, before_id: int | None = None) -> list[dict[str, Any]]:
        """The conversation's history (the messages before ``before_id``, or all), as fresh dicts."""
        with self._lock:
            entry = self._entries.pop(conversation_id, None)
        if entry is not None and self.store.messages_fingerprint(conversation_id, entry.last_id) != (
            entry.count,
            entry.newest,
        ):
            entry = None  # something before our newest message was deleted or replaced
        entry = entry or _Entry([], [], 0, None)
        for row_id, created_at, data, status in self.store.history_rows(
            conversation_id, after_id=entry.last_id
        ):
            entry.ids.append(row_id)
            entry.items.append(history_item(data, status))
            entry.count += 1
            entry.newest = created_at if entry.newest is None else max(entry.newest, created_at)
        end = len(entry.ids) if before_id is None else bisect.bisect_left(entry.ids, before_id)
        result = [_copy(item) for item in entry.items[:end] if item is not None]
        self._keep(conversation_id, entry)
        return result

    def _keep(self, conversation_id: str, entry: _Entry) -> None:
        with self._lock:
            self._entries[conversation_id] = entry
            total = sum(len(e.ids) for e in self._entries.values())
            while total > self.keep_messages and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                total -= len(dropped.ids)
