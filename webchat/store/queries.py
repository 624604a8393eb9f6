"""The queries: conversations, messages and turns in SQL (SQLite by default, any SQLAlchemy URL).

Every write is one short transaction and a message is one INSERT, so two requests appending
to the same conversation at once both land, in the order the database saw them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, true, update
from sqlalchemy.exc import IntegrityError

from webchat.messages import ChatMessage, message_from_dict
from webchat.store import tree
from webchat.store.engine import make_engine
from webchat.store.migrate import upgrade
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
from webchat.store.schema import conversations, messages, runners, turn_inputs, turn_records, turns
from webchat.store.tree import Versions
from webchat.store.tree_json import Node


def _insert_turn(db: Connection, turn: Turn) -> None:
    db.execute(
        turns.insert().values(
            id=turn.id,
            conversation_id=turn.conversation_id,
            owner=turn.owner,
            status=turn.status,
            created_at=turn.created_at,
            runner_id=turn.runner_id,
            client=turn.client,
            inputs_from=turn.inputs_from,
        )
    )


def _turn_rows(
    conversation_id: str, owner: str, runs: list[tuple[MessageKind, list[ChatMessage]]], now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for messages written at once (an import, a program's new Chatbot value): each input
    and the reply after it one finished turn, as if written here, so replies have their controls."""
    turn_rows: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    has_reply = True
    for kind, run in runs:
        if kind == "input" or has_reply:
            turn_rows.append(
                {
                    "id": new_id(),
                    "conversation_id": conversation_id,
                    "owner": owner,
                    "status": "done",
                    "created_at": now + len(turn_rows) * 1e-6,  # in order: the last is the last
                    "finished_at": now,
                }
            )
            has_reply = False
        has_reply = has_reply or kind == "reply"
        rows += [_message_row(conversation_id, turn_rows[-1]["id"], kind, m, now) for m in run]
    return turn_rows, rows


@contextmanager
def _one_running_turn() -> Iterator[None]:
    """Turn the database's refusal of a second running turn (ux_turns_one_running) into TurnBusy."""
    try:
        yield
    except IntegrityError as error:
        if "ux_turns_one_running" in str(error) or "turns.conversation_id" in str(error):
            raise TurnBusy() from None
        raise


class Store:
    """All reads and writes of conversations; owners are opaque strings (a session or a user)."""

    def __init__(self, url: str) -> None:
        """Connect, and bring the schema up to date (webchat.store.migrate; every worker may)."""
        self.engine: Engine = make_engine(url)
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self, within: Connection | None = None) -> Iterator[Connection]:
        """A transaction; or, given one already open, that one (so several writes commit together)."""
        if within is not None:
            yield within
            return
        with self.engine.begin() as connection:
            yield connection

    # Conversations

    def create_conversation(self, owner: str, title: str = "") -> Conversation:
        now = time.time()
        conversation = Conversation(new_id(), owner, title_from(title), now, now)
        with self._write() as db:
            db.execute(
                conversations.insert().values(
                    id=conversation.id,
                    owner=owner,
                    title=conversation.title,
                    created_at=now,
                    updated_at=now,
                )
            )
        return conversation

    def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        """The conversation if this owner has it; None for another owner's, so ids don't leak."""
        query = select(conversations).where(
            conversations.c.id == conversation_id,
            conversations.c.owner == owner,
            conversations.c.deleted_at.is_(None),
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return Conversation.from_row(row) if row else None

    def list_conversations(self, owner: str, limit: int = 200, search: str = "") -> list[Conversation]:
        """The owner's conversations, newest first; ``search`` matches titles and message text."""
        query = select(conversations).where(
            conversations.c.owner == owner, conversations.c.deleted_at.is_(None)
        )
        if search.strip():
            escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            in_messages = select(messages.c.conversation_id).where(
                messages.c.data.ilike(pattern, escape="\\")
            )
            query = query.where(
                conversations.c.title.ilike(pattern, escape="\\") | conversations.c.id.in_(in_messages)
            )
        query = query.order_by(conversations.c.updated_at.desc()).limit(limit)
        with self.engine.connect() as db:
            return [Conversation.from_row(row) for row in db.execute(query)]

    def latest_conversation(self, owner: str) -> Conversation | None:
        found = self.list_conversations(owner, limit=1)
        return found[0] if found else None

    def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Hide a conversation (restorable until purged)."""
        return self._set_deleted(owner, conversation_id, time.time())

    def deleted_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        query = select(conversations).where(
            conversations.c.id == conversation_id,
            conversations.c.owner == owner,
            conversations.c.deleted_at.is_not(None),
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return Conversation.from_row(row) if row else None

    def restore_conversation(self, owner: str, conversation_id: str) -> bool:
        return self._set_deleted(owner, conversation_id, None)

    def _set_deleted(self, owner: str, conversation_id: str, when: float | None) -> bool:
        with self._write() as db:
            result = db.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.owner == owner)
                .values(deleted_at=when)
            )
        return result.rowcount > 0

    def purge_deleted(self, older_than: float) -> int:
        """Remove for good the conversations deleted before ``older_than`` (a timestamp)."""
        with self._write() as db:
            doomed = select(conversations.c.id).where(conversations.c.deleted_at < older_than)
            db.execute(delete(messages).where(messages.c.conversation_id.in_(doomed)))
            db.execute(delete(turns).where(turns.c.conversation_id.in_(doomed)))
            result = db.execute(delete(conversations).where(conversations.c.deleted_at < older_than))
        return result.rowcount

    def conversation_settings(self, conversation_id: str) -> dict[str, Any]:
        """The model a conversation chose and its settings ({} for the defaults)."""
        query = select(conversations.c.settings).where(conversations.c.id == conversation_id)
        with self.engine.connect() as db:
            data = db.execute(query).scalar()
        return json.loads(data) if data else {}

    def set_conversation_settings(self, conversation_id: str, settings: Mapping[str, Any]) -> None:
        data = json.dumps(dict(settings), ensure_ascii=False) if settings else None
        with self._write() as db:
            db.execute(
                update(conversations).where(conversations.c.id == conversation_id).values(settings=data)
            )

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool:
        with self._write() as db:
            result = db.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.owner == owner)
                .values(title=title_from(title))
            )
        return result.rowcount > 0

    # Messages

    def append(
        self,
        conversation_id: str,
        items: Iterable[ChatMessage],
        *,
        turn_id: str | None = None,
        kind: MessageKind = "reply",
        status: MessageStatus = "complete",
        error: str | None = None,
        within: Connection | None = None,
    ) -> list[StoredMessage]:
        """Append messages in one transaction (``within`` one already open); the conversation's
        title comes from its first text."""
        now = time.time()
        items = list(items)
        stored: list[StoredMessage] = []
        with self._write(within) as db:
            parent = tree.last_active(db, conversation_id) if items else None
            for message in items:
                values = _message_row(conversation_id, turn_id, kind, message, now, status, error, parent)
                row_id = db.execute(messages.insert().values(**values)).inserted_primary_key[0]
                parent = row_id
                stored.append(
                    StoredMessage(
                        row_id,
                        conversation_id,
                        message,
                        turn_id,
                        kind,
                        status,
                        error,
                        None,
                        now,
                        values["ref"],
                        values["parent_id"],
                    )
                )
            changes: dict[str, Any] = {"updated_at": now}
            first_text = next((m.text for m in items if m.role == "user" and m.text.strip()), "")
            if first_text:
                changes["title"] = func.coalesce(
                    func.nullif(conversations.c.title, ""), title_from(first_text)
                )
            db.execute(update(conversations).where(conversations.c.id == conversation_id).values(**changes))
        return stored

    def import_messages(
        self, owner: str, runs: Iterable[tuple[MessageKind, list[ChatMessage]]], title: str = ""
    ) -> Conversation:
        """A new conversation holding ``runs`` of messages (each run one kind), written in one
        transaction with bulk inserts: tens of thousands of messages in a moment, or none. Each
        input and the reply after it are one finished turn, as if written here: the replies
        have their controls (Retry, Undo, like)."""
        now = time.time()
        conversation = Conversation(new_id(), owner, title, now, now)
        runs = list(runs)
        turn_rows, rows = _turn_rows(conversation.id, owner, runs, now)
        first_text = next((m.text for _, run in runs for m in run if m.role == "user" and m.text.strip()), "")
        with self._write() as db:
            _insert_conversation(db, conversation.id, owner, title_from(title or first_text), now)
            if turn_rows:
                db.execute(turns.insert(), turn_rows)
            if rows:
                db.execute(messages.insert(), rows)
                tree.link_parents(db, conversation.id)
        return self.get_conversation(owner, conversation.id) or conversation

    def import_tree(self, owner: str, nodes: Sequence[Node], title: str = "") -> Conversation:
        """A new conversation holding a whole tree of messages (webchat.store.tree_json), in one
        transaction: each input and each version of its reply a finished turn, as if written
        here (a reply's later versions are retries of the input), the selected nodes the branch
        shown. Switching to a version then shows the branch under it listed last."""
        now = time.time()
        conversation = Conversation(new_id(), owner, title, now, now)
        first_text = next(
            (
                n.message.text
                for n in nodes
                if n.selected and n.message.role == "user" and n.message.text.strip()
            ),
            "",
        )
        with self._write() as db:
            _insert_conversation(db, conversation.id, owner, title_from(title or first_text), now)
            ids: list[int] = []
            turn_of: list[str] = []
            answers: dict[str, str] = {}  # a retry's turn -> the turn whose input it answers
            replied: set[str] = set()

            def new_turn(inputs_from: str | None = None) -> str:
                turn_id = new_id()
                db.execute(
                    turns.insert().values(
                        id=turn_id,
                        conversation_id=conversation.id,
                        owner=owner,
                        status="done",
                        created_at=now + len(answers) * 1e-6,
                        finished_at=now,
                        inputs_from=inputs_from,
                    )
                )
                answers[turn_id] = inputs_from or turn_id
                return turn_id

            for index, node in enumerate(nodes):
                kind: MessageKind = "input" if node.message.role == "user" else "reply"
                parent = node.parent
                parent_kind = (
                    None if parent is None else ("input" if nodes[parent].message.role == "user" else "reply")
                )
                if parent is not None and parent_kind == kind:
                    turn_id = turn_of[parent]  # more of the same input, or of the same reply
                elif kind == "reply" and parent is not None:
                    asked = turn_of[parent]
                    turn_id = new_turn(answers[asked]) if asked in replied else asked
                    replied.add(asked)
                else:
                    turn_id = new_turn()
                    if kind == "reply":
                        replied.add(turn_id)
                row = _message_row(
                    conversation.id,
                    turn_id,
                    kind,
                    node.message,
                    now,
                    parent_id=ids[parent] if parent is not None else None,
                )
                # Versions not shown: the later listed, the more recently shown.
                row.update(
                    active=node.selected,
                    selected_at=now if node.selected else now - (len(nodes) - index) * 1e-6,
                )
                ids.append(db.execute(messages.insert().values(**row)).inserted_primary_key[0])
                turn_of.append(turn_id)
        return self.get_conversation(owner, conversation.id) or conversation

    def rewrite(
        self, conversation: Conversation, keep: int, runs: Iterable[tuple[MessageKind, list[ChatMessage]]]
    ) -> None:
        """Keep the selected branch's first ``keep`` messages and put ``runs`` after them, in
        one transaction (a program's handler set the Chatbot's value, as Gradio does: what
        followed the kept messages goes, on every branch from there); the new messages are
        finished turns, as imported ones are (turns left empty end as edited, as an edit leaves
        them)."""
        now = time.time()
        runs = list(runs)
        turn_rows, rows = _turn_rows(conversation.id, conversation.owner, runs, now)
        with self._write() as db:
            shown = select(messages.c.id).where(
                messages.c.conversation_id == conversation.id, messages.c.active == true()
            )
            last_kept = (
                db.execute(shown.order_by(messages.c.id).offset(keep - 1).limit(1)).scalar() if keep else None
            )
            doomed = [
                message_id
                for first in tree.siblings(db, conversation.id, last_kept)
                for message_id in tree.subtree(db, conversation.id, first)
            ]
            _delete_messages(db, doomed)
            if doomed:
                tree.changed(db, conversation.id)
            used = select(messages.c.turn_id).where(
                messages.c.conversation_id == conversation.id, messages.c.turn_id.is_not(None)
            )
            db.execute(
                update(turns)
                .where(
                    turns.c.conversation_id == conversation.id,
                    turns.c.status.not_in(("running", "edited", "undone")),
                    turns.c.id.not_in(used),
                )
                .values(status="edited")
            )
            if turn_rows:
                db.execute(turns.insert(), turn_rows)
            if rows:
                db.execute(messages.insert(), rows)
                tree.link_parents(db, conversation.id)
            db.execute(
                update(conversations).where(conversations.c.id == conversation.id).values(updated_at=now)
            )

    def messages(
        self, conversation_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[StoredMessage]:
        """The selected branch's messages in order; with ``limit``, only the newest that many (of
        those before message id ``before``, for a page of earlier messages)."""
        query = select(messages).where(
            messages.c.conversation_id == conversation_id, messages.c.active == true()
        )
        if before is not None:
            query = query.where(messages.c.id < before)
        if limit is None:
            query = query.order_by(messages.c.id)
        else:
            query = query.order_by(messages.c.id.desc()).limit(limit)
        with self.engine.connect() as db:
            rows = list(db.execute(query))
        if limit is not None:
            rows.reverse()
        return [_stored_message(row._mapping) for row in rows]

    def count_messages(self, conversation_id: str) -> int:
        query = select(func.count()).where(
            messages.c.conversation_id == conversation_id, messages.c.active == true()
        )
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    def turn_messages(self, turn_id: str, kind: MessageKind) -> list[StoredMessage]:
        """A turn's input or reply messages; the input of a retry is the one it answers again."""
        owner_turn: Any = turn_id
        if kind == "input":
            owner_turn = func.coalesce(
                select(turns.c.inputs_from).where(turns.c.id == turn_id).scalar_subquery(), turn_id
            )
        query = (
            select(messages)
            .where(messages.c.turn_id == owner_turn, messages.c.kind == kind)
            .order_by(messages.c.id)
        )
        with self.engine.connect() as db:
            return [_stored_message(row._mapping) for row in db.execute(query)]

    def history_rows(self, conversation_id: str, *, after_id: int = 0) -> list[tuple[int, float, str, str]]:
        """``(id, created_at, data, status)`` of the selected branch's messages after ``after_id``,
        oldest first: the raw rows a chat function's history is read from (webchat.history),
        without a ChatMessage built and validated for each (they were validated when stored)."""
        query = (
            select(messages.c.id, messages.c.created_at, messages.c.data, messages.c.status)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.active == true(),
                messages.c.id > after_id,
            )
            .order_by(messages.c.id)
        )
        with self.engine.connect() as db:
            return [tuple(row) for row in db.execute(query)]  # type: ignore[misc]

    def messages_fingerprint(self, conversation_id: str, up_to_id: int) -> tuple[int, float | None, int]:
        """``(count, newest created_at, branch_rev)`` of the selected branch's messages up to
        ``up_to_id``: it changes whenever one of them is deleted, or deleted and replaced (ids may
        be reused; creation times are not), or another branch is selected."""
        rev = (
            select(conversations.c.branch_rev).where(conversations.c.id == conversation_id).scalar_subquery()
        )
        query = select(func.count(), func.max(messages.c.created_at), rev).where(
            messages.c.conversation_id == conversation_id,
            messages.c.active == true(),
            messages.c.id <= up_to_id,
        )
        with self.engine.connect() as db:
            count, newest, branch_rev = db.execute(query).one()
        return int(count), newest, int(branch_rev or 0)

    def history_before(self, conversation_id: str, message_id: int) -> list[StoredMessage]:
        """The selected branch's messages before this one."""
        query = (
            select(messages)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.active == true(),
                messages.c.id < message_id,
            )
            .order_by(messages.c.id)
        )
        with self.engine.connect() as db:
            return [_stored_message(row._mapping) for row in db.execute(query)]

    def remove_turn(self, turn: Turn, status: TurnStatus = "undone") -> list[StoredMessage]:
        """Undo: remove a turn's input and reply, with every version of its reply and all that
        followed them; returns its input messages. Another version of the input (an earlier
        edit) stays, and its branch is selected: undoing an edit shows the message it replaced."""
        inputs = self.turn_messages(turn.id, "input")
        with self._write() as db:
            if inputs:
                first = inputs[0]
                _delete_messages(db, tree.subtree(db, turn.conversation_id, first.id))
                left = tree.siblings(db, turn.conversation_id, first.parent_id)
                if left:
                    tree.select_branch(db, turn.conversation_id, left[-1], first.parent_id)
                else:
                    tree.changed(db, turn.conversation_id)
            db.execute(delete(messages).where(messages.c.turn_id == turn.id))
            db.execute(update(turns).where(turns.c.id == turn.id).values(status=status))
        return inputs

    def clear_conversation(self, conversation_id: str) -> None:
        with self._write() as db:
            db.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            db.execute(
                update(turns)
                .where(turns.c.conversation_id == conversation_id, turns.c.status != "running")
                .values(status="cleared")
            )
            tree.changed(db, conversation_id)

    def restart_turn(self, old: Turn, runner_id: str | None = None, client: str | None = None) -> Turn:
        """Retry: a new running turn that answers the old turn's input again. The old reply, and
        what followed it, stay as another branch: the new reply is a version beside it."""
        inputs = self.turn_messages(old.id, "input")
        replies = self.turn_messages(old.id, "reply")
        turn = Turn(
            new_id(),
            old.conversation_id,
            old.owner,
            "running",
            time.time(),
            runner_id,
            client,
            inputs_from=old.inputs_from or old.id,
        )
        with _one_running_turn(), self._write() as db:
            _insert_turn(db, turn)
            if inputs:
                tree.deactivate_from(db, old.conversation_id, inputs[-1].id + 1)
            elif replies:
                tree.deactivate_from(db, old.conversation_id, replies[0].id)
        return turn

    def get_message(self, conversation_id: str, message_id: int) -> StoredMessage | None:
        query = select(messages).where(
            messages.c.conversation_id == conversation_id, messages.c.id == message_id
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return _stored_message(row._mapping) if row else None

    def message_by_ref(self, ref: str) -> StoredMessage | None:
        """The message with this URL id, whoever owns it (the caller checks the owner)."""
        with self.engine.connect() as db:
            row = db.execute(select(messages).where(messages.c.ref == ref)).first()
        return _stored_message(row._mapping) if row else None

    def set_feedback(self, conversation_id: str, message_id: int, feedback: int | None) -> bool:
        with self._write() as db:
            result = db.execute(
                update(messages)
                .where(messages.c.conversation_id == conversation_id, messages.c.id == message_id)
                .values(feedback=feedback)
            )
        return result.rowcount > 0

    def delete_messages_from(self, conversation_id: str, message_id: int) -> int:
        """Remove a message and everything after it on the selected branch."""
        with self._write() as db:
            result = db.execute(
                delete(messages).where(
                    messages.c.conversation_id == conversation_id,
                    messages.c.active == true(),
                    messages.c.id >= message_id,
                )
            )
            tree.changed(db, conversation_id)
        return result.rowcount

    # Versions and branches (webchat.store.tree)

    def last_compared(self, conversation_id: str) -> Turn | None:
        """The turn of the selected branch's last message if it is a comparison not yet settled
        (webchat.backends.compare: its answers titled, ``metadata.id`` "compare-<n>")."""
        query = (
            select(messages.c.turn_id, messages.c.kind, messages.c.data)
            .where(messages.c.conversation_id == conversation_id, messages.c.active == true())
            .order_by(messages.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        if row is None or row.kind != "reply" or '"compare-' not in row.data or not row.turn_id:
            return None
        return self.get_turn(row.turn_id)

    def keep_compared(self, turn: Turn, index: int) -> None:
        """Make each model's answer of a comparison a version of the reply, answering the same
        input (the first stays the turn's, the others get turns of their own), and show the
        ``index``-th; a message written after the comparison goes on from the kept answer."""
        replies = self.turn_messages(turn.id, "reply")
        inputs = self.turn_messages(turn.id, "input")
        parent = inputs[-1].id if inputs else replies[0].parent_id
        now = time.time()
        with self._write() as db:
            shown = replies[0].active
            for position, stored in enumerate(replies):
                turn_id = turn.id
                if position:
                    turn_id = new_id()
                    db.execute(
                        turns.insert().values(
                            id=turn_id,
                            conversation_id=turn.conversation_id,
                            owner=turn.owner,
                            status="done",
                            created_at=turn.created_at + position * 1e-6,
                            finished_at=now,
                            inputs_from=turn.inputs_from or turn.id,
                        )
                    )
                meta = {k: v for k, v in stored.message.metadata.items() if k not in COMPARE_KEYS}
                plain = ChatMessage(role="assistant", content=stored.message.content, metadata=meta)
                db.execute(
                    update(messages)
                    .where(messages.c.id == stored.id)
                    .values(
                        data=json.dumps(plain.to_dict(), ensure_ascii=False),
                        turn_id=turn_id,
                        parent_id=parent,
                        active=shown and position == index,
                        selected_at=now,
                    )
                )
            db.execute(
                update(messages)
                .where(messages.c.conversation_id == turn.conversation_id)
                .where(messages.c.parent_id == replies[-1].id)
                .values(parent_id=replies[index].id)
            )
            tree.changed(db, turn.conversation_id)

    def versions(self, conversation_id: str, shown: Iterable[StoredMessage]) -> dict[int, Versions]:
        """Where each shown message stands among its versions (only those that have others)."""
        with self.engine.connect() as db:
            return tree.versions(db, conversation_id, [(m.id, m.parent_id) for m in shown])

    def select_version(self, message: StoredMessage) -> None:
        """Show the branch through this version of a message or reply (TurnBusy while a reply is
        being written: the reply must end on the branch it started on)."""
        with self._write() as db:
            running = db.execute(
                select(turns.c.id).where(
                    turns.c.conversation_id == message.conversation_id, turns.c.status == "running"
                )
            ).first()
            if running is not None:
                raise TurnBusy()
            tree.select_branch(db, message.conversation_id, message.id, message.parent_id)
            db.execute(
                update(conversations)
                .where(conversations.c.id == message.conversation_id)
                .values(updated_at=time.time())
            )

    def is_shown(self, message_id: int) -> bool:
        """Is this message on its conversation's selected branch?"""
        with self.engine.connect() as db:
            return bool(db.execute(select(messages.c.active).where(messages.c.id == message_id)).scalar())

    def all_messages(self, conversation_id: str) -> list[StoredMessage]:
        """Every message of the conversation, on every branch, in the order written."""
        query = select(messages).where(messages.c.conversation_id == conversation_id).order_by(messages.c.id)
        with self.engine.connect() as db:
            return [_stored_message(row._mapping) for row in db.execute(query)]

    # Turns

    def create_turn(
        self, conversation_id: str, owner: str, runner_id: str | None = None, client: str | None = None
    ) -> Turn:
        """A new running turn (produced by ``runner_id``, asked for by ``client``); TurnBusy if the
        conversation has one."""
        return self.start_turn(conversation_id, owner, (), runner_id=runner_id, client=client)[0]

    def start_turn(
        self,
        conversation_id: str,
        owner: str,
        inputs: Iterable[ChatMessage],
        *,
        runner_id: str | None = None,
        client: str | None = None,
        branch_from: int | None = None,
    ) -> tuple[Turn, list[StoredMessage]]:
        """A new running turn with its input messages, in one transaction: TurnBusy (and nothing
        changed) if the conversation has one. ``branch_from``: an edit; the selected branch from
        that message on becomes another branch, and the new input a version beside it."""
        turn = Turn(new_id(), conversation_id, owner, "running", time.time(), runner_id, client)
        with _one_running_turn(), self._write() as db:
            _insert_turn(db, turn)  # first: a second turn waits here, or is refused, before changing anything
            if branch_from is not None:
                tree.deactivate_from(db, conversation_id, branch_from)
            stored = self.append(conversation_id, inputs, turn_id=turn.id, kind="input", within=db)
        return turn, stored

    def count_running_turns(self, owner: str) -> int:
        query = select(func.count()).where(turns.c.owner == owner, turns.c.status == "running")
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    def count_client_running_turns(self, client: str) -> int:
        """Running turns started from one client address (whatever session asked)."""
        query = select(func.count()).where(turns.c.client == client, turns.c.status == "running")
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    def get_turn(self, turn_id: str) -> Turn | None:
        with self.engine.connect() as db:
            row = db.execute(select(turns).where(turns.c.id == turn_id)).first()
        return _turn(row._mapping) if row else None

    def running_turn(self, conversation_id: str) -> Turn | None:
        query = (
            select(turns)
            .where(turns.c.conversation_id == conversation_id, turns.c.status == "running")
            .order_by(turns.c.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return _turn(row._mapping) if row else None

    def last_turn(self, conversation_id: str) -> Turn | None:
        """The running turn, or else the turn of the selected branch's last message."""
        running = self.running_turn(conversation_id)
        if running is not None:
            return running
        last = (
            select(messages.c.turn_id)
            .where(messages.c.conversation_id == conversation_id, messages.c.active == true())
            .order_by(messages.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        with self.engine.connect() as db:
            row = db.execute(select(turns).where(turns.c.id == last)).first()
        return _turn(row._mapping) if row else None

    def finish_turn(
        self,
        turn: Turn,
        status: TurnStatus,
        reply: Iterable[ChatMessage] = (),
        *,
        error: str | None = None,
    ) -> list[StoredMessage] | None:
        """Store a turn's final reply and its end state in one transaction, so neither exists without
        the other, and only once: None (nothing stored) if the turn had already ended, as when two
        workers race to end it (a stop and the runner, or a dead runner's reaper)."""
        message_status: MessageStatus = "complete" if status == "done" else status  # type: ignore[assignment]
        reply = list(reply)
        if (error is not None or status == "stopped") and not reply:
            # An error bubble or a "stopped" mark needs a row to live on when nothing was produced.
            reply = [ChatMessage(role="assistant", content="")]
        with self._write() as db:
            ended = db.execute(
                update(turns)
                .where(turns.c.id == turn.id, turns.c.status == "running")
                .values(status=status, finished_at=time.time(), checkpoint=None)
            )
            if ended.rowcount == 0:
                return None
            return self.append(
                turn.conversation_id,
                reply,
                turn_id=turn.id,
                kind="reply",
                status=message_status,
                error=error,
                within=db,
            )

    # Checkpoints and leases (webchat.turns: nothing a reader saw is lost when a process dies)

    def checkpoint(self, runner_id: str, replies: Mapping[str, Iterable[ChatMessage]]) -> None:
        """Store the reply so far of each running turn (turn id -> messages), all in one
        transaction, noting which runner produces them; a turn that has ended is left alone."""
        if not replies:
            return
        rows = [
            {
                "tid": turn_id,
                "rid": runner_id,
                "data": json.dumps([m.to_dict() for m in reply], ensure_ascii=False),
            }
            for turn_id, reply in replies.items()
        ]
        statement = (
            update(turns)
            .where(turns.c.id == bindparam("tid"), turns.c.status == "running")
            .values(runner_id=bindparam("rid"), checkpoint=bindparam("data"))
        )
        with self._write() as db:
            db.execute(statement, rows)

    def checkpointed(self, turn_id: str) -> list[ChatMessage]:
        """The reply a running turn had when last checkpointed ([] if none)."""
        with self.engine.connect() as db:
            data = db.execute(select(turns.c.checkpoint).where(turns.c.id == turn_id)).scalar_one_or_none()
        return [message_from_dict(item) for item in json.loads(data)] if data else []

    def renew_runner(self, runner_id: str, pid: int, host: str) -> None:
        """The runner is alive now (its lease starts again)."""
        now = time.time()
        with self._write() as db:
            renewed = db.execute(update(runners).where(runners.c.id == runner_id).values(renewed_at=now))
            if renewed.rowcount == 0:
                db.execute(runners.insert().values(id=runner_id, pid=pid, host=host, renewed_at=now))

    def live_runners(self, lease: float) -> dict[str, tuple[int, str]]:
        """Runners that renewed their lease within ``lease`` seconds: id -> (pid, host). Rows a
        day older than that are dropped."""
        cutoff = time.time() - lease
        with self._write() as db:
            db.execute(delete(runners).where(runners.c.renewed_at < cutoff - 86400))
            rows = db.execute(select(runners).where(runners.c.renewed_at >= cutoff))
            return {row.id: (row.pid, row.host) for row in rows}

    def end_runner(self, runner_id: str) -> None:
        with self._write() as db:
            db.execute(delete(runners).where(runners.c.id == runner_id))

    def running_turns(self) -> list[Turn]:
        with self.engine.connect() as db:
            rows = db.execute(select(turns).where(turns.c.status == "running"))
            return [_turn(row._mapping) for row in rows]

    def save_turn_inputs(self, turn_id: str, values: tuple[Any, ...] | list[Any]) -> None:
        """Keep the extra values a turn's chat function got, for a retry or an edit to reuse."""
        data = json.dumps(list(values), ensure_ascii=False, default=str)
        with self._write() as db:
            db.execute(delete(turn_inputs).where(turn_inputs.c.turn_id == turn_id))
            db.execute(turn_inputs.insert().values(turn_id=turn_id, data=data))

    def save_turn_record(self, turn_id: str, record: dict[str, Any]) -> None:
        """Keep what a turn asked of its model server and how it went (webchat.turn_record)."""
        data = json.dumps(record, ensure_ascii=False, default=str)
        with self._write() as db:
            db.execute(delete(turn_records).where(turn_records.c.turn_id == turn_id))
            db.execute(turn_records.insert().values(turn_id=turn_id, data=data))

    def turn_records(self, turn_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The records of these turns (those that have one), in one query."""
        ids = [t for t in turn_ids if t]
        if not ids:
            return {}
        query = select(turn_records).where(turn_records.c.turn_id.in_(ids))
        with self.engine.connect() as db:
            return {row.turn_id: json.loads(row.data) for row in db.execute(query)}

    def conversation_turn_records(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every recorded turn of the conversation, oldest first: the turn (id, status, times) and
        its record."""
        query = (
            select(turns.c.id, turns.c.status, turns.c.created_at, turns.c.finished_at, turn_records.c.data)
            .join(turn_records, turn_records.c.turn_id == turns.c.id)
            .where(turns.c.conversation_id == conversation_id)
            .order_by(turns.c.created_at, turns.c.id)
        )
        with self.engine.connect() as db:
            return [
                {
                    "turn_id": row.id,
                    "status": row.status,
                    "created_at": row.created_at,
                    "finished_at": row.finished_at,
                    **json.loads(row.data),
                }
                for row in db.execute(query)
            ]

    def turn_inputs(self, turn_id: str) -> tuple[Any, ...]:
        with self.engine.connect() as db:
            data = db.execute(select(turn_inputs.c.data).where(turn_inputs.c.turn_id == turn_id)).scalar()
        return tuple(json.loads(data)) if data else ()

    def interrupt_running_turns(self, reason: str) -> int:
        """After a restart no runner is left for 'running' turns: mark them so they can be retried."""
        with self.engine.connect() as db:
            running = [
                _turn(row._mapping) for row in db.execute(select(turns).where(turns.c.status == "running"))
            ]
        for turn in running:
            self.finish_turn(turn, "interrupted", error=reason)
        return len(running)


def _stored_message(row: Any) -> StoredMessage:
    return StoredMessage(
        id=row["id"],
        conversation_id=row["conversation_id"],
        message=message_from_dict(json.loads(row["data"])),
        turn_id=row["turn_id"],
        kind=row["kind"],
        status=row["status"],
        error=row["error"],
        feedback=row["feedback"],
        created_at=row["created_at"],
        ref=row["ref"] or "",
        parent_id=row["parent_id"],
        active=bool(row["active"]),
    )


def _message_row(
    conversation_id: str,
    turn_id: str | None,
    kind: MessageKind,
    message: ChatMessage,
    now: float,
    status: MessageStatus = "complete",
    error: str | None = None,
    parent_id: int | None = None,
) -> dict[str, Any]:
    """One row of ``messages`` (its id comes from the database; bulk inserts link their parents
    afterwards, webchat.store.tree.link_parents)."""
    return {
        "parent_id": parent_id,
        "active": True,
        "selected_at": now,
        "ref": new_id(),
        "conversation_id": conversation_id,
        "turn_id": turn_id,
        "kind": kind,
        "role": message.role,
        "data": json.dumps(message.to_dict(), ensure_ascii=False),
        "status": status,
        "error": error,
        "created_at": now,
    }


COMPARE_KEYS = ("title", "id", "status")  # what marks a compared answer (webchat.backends.compare)


def _insert_conversation(db: Connection, conversation_id: str, owner: str, title: str, now: float) -> None:
    db.execute(
        conversations.insert().values(
            id=conversation_id, owner=owner, title=title, created_at=now, updated_at=now
        )
    )


def _delete_messages(db: Connection, ids: list[int]) -> None:
    for start in range(0, len(ids), 1000):  # a bound list per statement, as every database takes
        db.execute(delete(messages).where(messages.c.id.in_(ids[start : start + 1000])))


def _reply_json(reply: Iterable[ChatMessage]) -> str:
    return json.dumps([m.to_dict() for m in reply], ensure_ascii=False)


def _turn(row: Any) -> Turn:
    return Turn(
        id=row["id"],
        conversation_id=row["conversation_id"],
        owner=row["owner"],
        status=row["status"],
        created_at=row["created_at"],
        runner_id=row["runner_id"],
        client=row["client"],
        inputs_from=row["inputs_from"],
    )
