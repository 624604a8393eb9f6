"""Shapes the stored messages into what the templates draw: groups (one turn's input, then its
reply), thoughts nested under their parents, and the streaming tail inside the last block."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup

from webchat.messages import ChatMessage
from webchat.store import StoredMessage


@dataclass
class Group:
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


def groups(stored: list[StoredMessage]) -> list[Group]:
    result: list[Group] = []
    for message in stored:
        last = result[-1] if result else None
        if last and last.kind == message.kind and last.turn_id == message.turn_id:
            last.messages.append(message)
        else:
            result.append(Group(message.kind, message.turn_id, [message]))
    return result


@dataclass
class Node:
    """A message with the thoughts nested under it (Gradio nests by ``metadata.parent_id``)."""

    message: ChatMessage
    stored: StoredMessage | None = None
    children: list[Node] = field(default_factory=list)
    tail: bool = False


def thread(items: Sequence[ChatMessage | StoredMessage], *, tail: bool = False) -> list[Node]:
    """Nest messages under the thought whose ``metadata.id`` their ``parent_id`` names.

    With ``tail``, the last message (in order, wherever it nests) carries the streaming tail.
    """
    nodes = [Node(item.message, item) if isinstance(item, StoredMessage) else Node(item) for item in items]
    if tail and nodes:
        nodes[-1].tail = True
    by_id: dict[object, Node] = {}  # only earlier messages can be parents: no cycles
    roots: list[Node] = []
    for node in nodes:
        meta = node.message.metadata
        parent = by_id.get(meta.get("parent_id")) if meta.get("parent_id") is not None else None
        (parent.children if parent else roots).append(node)
        if meta.get("id") is not None:
            by_id.setdefault(meta["id"], node)
    return roots


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
