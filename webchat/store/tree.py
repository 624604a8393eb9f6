"""The tree of a conversation's messages: versions of a message or a reply, and the branch shown.

Each message names its parent (the message before it on its branch). Retrying a reply adds a
reply beside the old one (same parent); editing a message adds a message beside the old one.
Messages with one parent are versions of each other, in the order they were written.

The selected branch is the path of rows marked ``active``, from the root to the selected leaf.
Along any path ids rise (a message is written after its parent), so the selected branch read in
id order, through the index on (conversation, active, id), is the conversation as a chat
function and the page see it: reading it costs the same however many other branches there are,
and every query that read the linear conversation reads the selected branch with one more
condition. Changing the selection deactivates the selected path from the branch point down and
activates another one; it counts ``conversations.branch_rev`` so that a worker's cached history
(webchat.history) notices.

Every function here takes the caller's open transaction: a change of branch and the turn that
caused it commit together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text, true, update

from webchat.store.schema import conversations, messages


@dataclass(frozen=True)
class Versions:
    """Where a message stands among its versions: ``index`` (1-based) of ``count``, and the refs
    of the versions before and after it (None at either end)."""

    index: int
    count: int
    previous: str | None
    following: str | None


def last_active(db: Connection, conversation_id: str) -> int | None:
    """The id of the selected branch's last message (the parent of the next one written)."""
    query = select(func.max(messages.c.id)).where(
        messages.c.conversation_id == conversation_id, messages.c.active == true()
    )
    return db.execute(query).scalar()


def deactivate_from(db: Connection, conversation_id: str, first_id: int) -> None:
    """Take the selected branch's messages from ``first_id`` on out of it (they stay stored, as
    another branch), so that what is written next becomes a version beside them."""
    db.execute(
        update(messages)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.active == true(),
            messages.c.id >= first_id,
        )
        .values(active=False)
    )
    changed(db, conversation_id)


def changed(db: Connection, conversation_id: str) -> None:
    """The selected branch changed otherwise than by growing (cached histories are stale)."""
    db.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(branch_rev=conversations.c.branch_rev + 1)
    )


def link_parents(db: Connection, conversation_id: str) -> None:
    """Give the selected branch's messages written without a parent (bulk inserts: an import, a
    program's new Chatbot value) the message before them on it."""
    before = messages.alias("before")
    previous = (
        select(func.max(before.c.id))
        .where(
            before.c.conversation_id == messages.c.conversation_id,
            before.c.active == true(),
            before.c.id < messages.c.id,
        )
        .scalar_subquery()
    )
    db.execute(
        update(messages)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.active == true(),
            messages.c.parent_id.is_(None),
        )
        .values(parent_id=previous)
    )


_SUB = (
    "WITH RECURSIVE sub(id) AS ("
    " SELECT id FROM messages WHERE conversation_id = :c AND id = :root"
    " UNION ALL SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id"
    " WHERE m.conversation_id = :c)"
)
_SUBTREE = text(_SUB + " SELECT id FROM sub")
# The end of the branch under a message that was shown last: the newest message to become selected
# (a path selected at once shares its time: then the deepest of it, the highest id).
_LAST_SHOWN_LEAF = text(
    _SUB
    + " SELECT m.id FROM messages m JOIN sub ON m.id = sub.id ORDER BY m.selected_at DESC, m.id DESC LIMIT 1"
)

_PATH_UP = text(
    "WITH RECURSIVE up(id, parent_id) AS ("
    " SELECT id, parent_id FROM messages WHERE conversation_id = :c AND id = :leaf"
    " UNION ALL SELECT m.id, m.parent_id FROM messages m JOIN up ON m.id = up.parent_id"
    " WHERE up.id <> :top AND m.conversation_id = :c)"
    " SELECT id FROM up"
)


def subtree(db: Connection, conversation_id: str, root_id: int) -> list[int]:
    """The ids of a message and every message after it on any branch from it."""
    return [row[0] for row in db.execute(_SUBTREE, {"c": conversation_id, "root": root_id})]


def siblings(db: Connection, conversation_id: str, parent_id: int | None) -> list[int]:
    """The ids of the messages with this parent (None: the conversation's first messages), oldest
    first: the versions of one message or reply."""
    parent = messages.c.parent_id.is_(None) if parent_id is None else messages.c.parent_id == parent_id
    query = (
        select(messages.c.id)
        .where(messages.c.conversation_id == conversation_id, parent)
        .order_by(messages.c.id)
    )
    return [row[0] for row in db.execute(query)]


def select_branch(db: Connection, conversation_id: str, message_id: int, parent_id: int | None) -> None:
    """Show the branch through ``message_id`` (a version of a message or reply): from the branch
    point down, the selected path becomes the one under it that was shown last, so a version
    shows as the reader left it, with the conversation carried on from it."""
    versions = siblings(db, conversation_id, parent_id)
    selected = db.execute(
        select(messages.c.id).where(messages.c.id.in_(versions), messages.c.active == true())
    ).scalar()
    if selected == message_id:
        return
    if selected is not None:
        deactivate_from(db, conversation_id, selected)
    else:
        changed(db, conversation_id)
    leaf = db.execute(_LAST_SHOWN_LEAF, {"c": conversation_id, "root": message_id}).scalar()
    path = [row[0] for row in db.execute(_PATH_UP, {"c": conversation_id, "leaf": leaf, "top": message_id})]
    db.execute(update(messages).where(messages.c.id.in_(path)).values(active=True, selected_at=time.time()))


def versions(
    db: Connection, conversation_id: str, shown: Iterable[tuple[int, int | None]]
) -> dict[int, Versions]:
    """For shown messages (``(id, parent_id)``), where each stands among its versions; only those
    that have other versions are in the answer. One query, reading only the shown messages'
    siblings."""
    wanted = list(shown)
    parents = {parent for _, parent in wanted}
    if not parents:
        return {}
    condition = messages.c.parent_id.in_([p for p in parents if p is not None])
    if None in parents:
        condition = condition | messages.c.parent_id.is_(None)
    query = (
        select(messages.c.id, messages.c.parent_id, messages.c.ref)
        .where(messages.c.conversation_id == conversation_id, condition)
        .order_by(messages.c.id)
    )
    by_parent: dict[int | None, list[tuple[int, str]]] = {}
    for row in db.execute(query):
        by_parent.setdefault(row.parent_id, []).append((row.id, row.ref or ""))
    found: dict[int, Versions] = {}
    for message_id, parent in wanted:
        group = by_parent.get(parent, [])
        ids = [i for i, _ in group]
        if len(group) < 2 or message_id not in ids:
            continue
        at = ids.index(message_id)
        found[message_id] = Versions(
            at + 1,
            len(group),
            group[at - 1][1] if at > 0 else None,
            group[at + 1][1] if at + 1 < len(group) else None,
        )
    return found
