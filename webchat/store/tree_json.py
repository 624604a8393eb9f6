"""A conversation's whole tree as portable JSON (an export with every version), and back.

The form, documented in the README and the API description::

    {"title": "…", "messages": [… the selected branch, as ``history`` …],
     "tree": [{"id": "a1", "parent": null, "selected": true, "message": {…}},
              {"id": "b2", "parent": "a1", "selected": true, "message": {…}}, …]}

``tree`` lists every message of every branch, each after its parent: ``id`` names a node within
the file (any string), ``parent`` the node before it on its branch (null for a first message),
``selected`` whether it is on the branch shown, and ``message`` is the messages-format dict.
Nodes with one parent are versions of each other, in the order listed. An import checks that
the selected nodes form one path from a first message (or selects the path to the last node when
none is marked), and refuses anything else with the node at fault named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webchat.messages import ChatMessage, MessageError, message_from_dict
from webchat.store.records import StoredMessage


@dataclass(frozen=True)
class Node:
    """A message of an imported tree: ``parent`` is the index of an earlier node (None: a first
    message), ``selected``: on the branch shown."""

    message: ChatMessage
    parent: int | None
    selected: bool


def tree_of(stored: Sequence[StoredMessage]) -> list[dict[str, Any]]:
    """Every message of a conversation (``Store.all_messages``), as the ``tree`` list above. The
    empty rows of failed replies are left out, as ``history`` leaves them out: what followed one
    hangs from the message before it."""
    kept: dict[int, StoredMessage] = {}
    parent_of: dict[int, int | None] = {}
    nodes = []
    for item in stored:
        parent = item.parent_id
        if parent is not None and parent not in kept:
            parent = parent_of.get(parent)  # the left-out row's own parent
        if item.status != "complete" and item.message.content == "":
            parent_of[item.id] = parent
            continue
        kept[item.id] = item
        parent_of[item.id] = parent
        nodes.append(
            {
                "id": item.ref or str(item.id),
                "parent": (kept[parent].ref or str(parent)) if parent is not None else None,
                "selected": item.active,
                "message": item.message.to_dict(),
            }
        )
    return nodes


def parse_tree(data: object) -> list[Node]:
    """The nodes of a posted ``tree`` list, checked; MessageError names what is wrong and where."""
    if not isinstance(data, list) or not data:
        raise MessageError("'tree' must be a list of nodes, each with id, parent and message")
    index_of: dict[str, int] = {}
    nodes: list[Node] = []
    for index, item in enumerate(data):
        where = f"tree[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str | int):
            raise MessageError(f"{where} must be an object with an 'id' (a string)")
        name, parent = str(item["id"]), item.get("parent")
        if name in index_of:
            raise MessageError(f"{where}: the id {name!r} is used twice")
        if parent is not None and str(parent) not in index_of:
            raise MessageError(f"{where}: its parent {parent!r} is not a node listed before it")
        if not isinstance(item.get("selected", False), bool):
            raise MessageError(f"{where}: 'selected' must be true or false")
        try:
            message = message_from_dict(item.get("message"))
        except MessageError as error:
            raise MessageError(f"{where}.message: {error}") from None
        index_of[name] = len(nodes)
        parent_index = index_of[str(parent)] if parent is not None else None
        nodes.append(Node(message, parent_index, bool(item.get("selected", False))))
    return _with_one_selected_path(nodes)


def _with_one_selected_path(nodes: list[Node]) -> list[Node]:
    selected = [i for i, node in enumerate(nodes) if node.selected]
    if not selected:  # none marked: the branch that ends with the last node
        path, at = set(), len(nodes) - 1
        while at is not None:
            path.add(at)
            at = nodes[at].parent
        return [Node(n.message, n.parent, i in path) for i, n in enumerate(nodes)]
    parents = [nodes[i].parent for i in selected]
    for i, parent in zip(selected, parents, strict=True):
        if parent is not None and not nodes[parent].selected:
            raise MessageError(
                f"tree[{i}] is selected but its parent is not: the selected nodes must be one path"
            )
    if len(set(parents)) != len(parents):
        raise MessageError("two selected nodes have the same parent: the selected nodes must be one path")
    return nodes
