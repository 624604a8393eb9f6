"""Shapes the stored messages into what the templates draw: the user's input, then each reply."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup

from webchat.hub import Snapshot
from webchat.store import StoredMessage


@dataclass
class Block:
    """Consecutive messages drawn together: one turn's input, or one turn's reply."""

    kind: Literal["input", "reply"]
    turn_id: str | None
    messages: list[StoredMessage] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return next((m.error for m in self.messages if m.error), None)

    @property
    def status(self) -> str:
        return self.messages[-1].status if self.messages else "complete"


def blocks(stored: list[StoredMessage]) -> list[Block]:
    result: list[Block] = []
    for message in stored:
        last = result[-1] if result else None
        if last and last.kind == message.kind and last.turn_id == message.turn_id:
            last.messages.append(message)
        else:
            result.append(Block(message.kind, message.turn_id, [message]))
    return result


def live_reply(snapshot: Snapshot | None) -> Snapshot | None:
    return snapshot if snapshot and not snapshot.final else None


# While a reply streams, raw text is appended to a <span class="tail"> after the last rendered
# Markdown. It must sit inside the last block (paragraph, list item, code), not after it, or the
# text would jump to a new line until the next render.
_TRAILING_CLOSE = re.compile(r"((?:</[a-z0-9]+>\s*)+)$")
_CLOSE_TAG = re.compile(r"</([a-z0-9]+)>")
_INLINE = frozenset(
    {
        "a",
        "b",
        "strong",
        "em",
        "i",
        "s",
        "del",
        "span",
        "sub",
        "sup",
        "math",
        "mi",
        "mn",
        "mo",
        "mrow",
        "semantics",
    }
)
TAIL = Markup('<span class="tail"></span>')


def with_tail(html: str) -> Markup:
    """``html`` with the streaming tail placed inside its last block element."""
    match = _TRAILING_CLOSE.search(html)
    if not match:
        return Markup(html) + TAIL
    closing = match.group(1)
    names = _CLOSE_TAG.findall(closing)
    offsets = [m.start() for m in _CLOSE_TAG.finditer(closing)]
    for name, offset in zip(names, offsets, strict=True):
        if name in _INLINE:
            continue
        cut = match.start() + offset
        return Markup(html[:cut]) + TAIL + Markup(html[cut:])
    return Markup(html) + TAIL
