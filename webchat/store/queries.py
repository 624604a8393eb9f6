"""The queries: conversations, messages and turns in SQL (SQLite by default, any SQLAlchemy URL).

Every write is one short transaction and a message is one INSERT, so two requests appending
to the same conversation at once both land, in the order the database saw them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from webchat.messages import ChatMessage, message_from_dict
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
            for message in items:
                values = _message_row(conversation_id, turn_id, kind, message, now, status, error)
                row_id = db.execute(messages.insert().values(**values)).inserted_primary_key[0]
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
            db.execute(
                conversations.insert().values(
                    id=conversation.id,
                    owner=owner,
                    title=title_from(title or first_text),
                    created_at=now,
                    updated_at=now,
                )
            )
            if turn_rows:
                db.execute(turns.insert(), turn_rows)
            if rows:
                db.execute(messages.insert(), rows)
        return self.get_conversation(owner, conversation.id) or conversation

    def rewrite(
        self, conversation: Conversation, keep: int, runs: Iterable[tuple[MessageKind, list[ChatMessage]]]
    ) -> None:
        """Keep the conversation's first ``keep`` messages and put ``runs`` after them, in one
        transaction (a program's handler set the Chatbot's value);
        the new messages are finished turns, as imported ones are (turns left empty end as
        edited, as an edit leaves them)."""
        now = time.time()
        runs = list(runs)
        turn_rows, rows = _turn_rows(conversation.id, conversation.owner, runs, now)
        with self._write() as db:
            kept = db.execute(
                select(messages.c.id)
                .where(messages.c.conversation_id == conversation.id)
                .order_by(messages.c.id)
                .offset(keep)
                .limit(1)
            ).scalar()
            if kept is not None:
                db.execute(
                    delete(messages).where(
                        messages.c.conversation_id == conversation.id, messages.c.id >= kept
                    )
                )
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
            db.execute(
                update(conversations).where(conversations.c.id == conversation.id).values(updated_at=now)
            )

    def messages(
        self, conversation_id: str, *, limit: int | None = None, before: int | None = None
    ) -> list[StoredMessage]:
        """A conversation's messages in order; with ``limit``, only the newest that many (of those
        before message id ``before``, for a page of earlier messages)."""
        query = select(messages).where(messages.c.conversation_id == conversation_id)
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
        query = select(func.count()).where(messages.c.conversation_id == conversation_id)
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    def turn_messages(self, turn_id: str, kind: MessageKind) -> list[StoredMessage]:
        query = (
            select(messages)
            .where(messages.c.turn_id == turn_id, messages.c.kind == kind)
            .order_by(messages.c.id)
        )
        with self.engine.connect() as db:
            return [_stored_message(row._mapping) for row in db.execute(query)]

    def history_rows(self, conversation_id: str, *, after_id: int = 0) -> list[tuple[int, float, str, str]]:
        """``(id, created_at, data, status)`` of the messages after ``after_id``, oldest first: the
        raw rows a chat function's history is read from (webchat.history), without a ChatMessage
        built and validated for each (they were validated when stored)."""
        query = (
            select(messages.c.id, messages.c.created_at, messages.c.data, messages.c.status)
            .where(messages.c.conversation_id == conversation_id, messages.c.id > after_id)
            .order_by(messages.c.id)
        )
        with self.engine.connect() as db:
            return [tuple(row) for row in db.execute(query)]  # type: ignore[misc]

    def messages_fingerprint(self, conversation_id: str, up_to_id: int) -> tuple[int, float | None]:
        """``(count, newest created_at)`` of the messages up to ``up_to_id``: it changes whenever one
        of them is deleted, or deleted and replaced (ids may be reused; creation times are not)."""
        query = select(func.count(), func.max(messages.c.created_at)).where(
            messages.c.conversation_id == conversation_id, messages.c.id <= up_to_id
        )
        with self.engine.connect() as db:
            count, newest = db.execute(query).one()
        return int(count), newest

    def history_before(self, conversation_id: str, message_id: int) -> list[StoredMessage]:
        query = (
            select(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.id < message_id)
            .order_by(messages.c.id)
        )
        with self.engine.connect() as db:
            return [_stored_message(row._mapping) for row in db.execute(query)]

    def remove_turn(self, turn: Turn, status: TurnStatus = "undone") -> list[StoredMessage]:
        """Undo or edit: remove a turn's messages (input and reply); returns its input messages."""
        inputs = self.turn_messages(turn.id, "input")
        with self._write() as db:
            db.execute(delete(messages).where(messages.c.turn_id == turn.id))
            db.execute(update(turns).where(turns.c.id == turn.id).values(status=status))
        return inputs

    def remove_turns_from(self, turn: Turn) -> None:
        """Edit: remove this turn and everything after it, so the conversation runs again from here."""
        inputs = self.turn_messages(turn.id, "input")
        with self._write() as db:
            if inputs:
                db.execute(
                    delete(messages).where(
                        messages.c.conversation_id == turn.conversation_id, messages.c.id >= inputs[0].id
                    )
                )
            db.execute(
                update(turns)
                .where(
                    turns.c.conversation_id == turn.conversation_id,
                    turns.c.created_at >= turn.created_at,
                    turns.c.status != "running",
                )
                .values(status="edited")
            )

    def clear_conversation(self, conversation_id: str) -> None:
        with self._write() as db:
            db.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            db.execute(
                update(turns)
                .where(turns.c.conversation_id == conversation_id, turns.c.status != "running")
                .values(status="cleared")
            )

    def restart_turn(self, old: Turn, runner_id: str | None = None, client: str | None = None) -> Turn:
        """Retry: drop the old turn's reply and give its input to a new running turn, atomically."""
        turn = Turn(new_id(), old.conversation_id, old.owner, "running", time.time(), runner_id, client)
        with _one_running_turn(), self._write() as db:
            db.execute(delete(messages).where(messages.c.turn_id == old.id, messages.c.kind == "reply"))
            db.execute(update(messages).where(messages.c.turn_id == old.id).values(turn_id=turn.id))
            db.execute(update(turns).where(turns.c.id == old.id).values(status="replaced"))
            _insert_turn(db, turn)
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
        """Remove a message and everything after it."""
        with self._write() as db:
            result = db.execute(
                delete(messages).where(
                    messages.c.conversation_id == conversation_id, messages.c.id >= message_id
                )
            )
        return result.rowcount

    # Turns

    def create_turn(
        self, conversation_id: str, owner: str, runner_id: str | None = None, client: str | None = None
    ) -> Turn:
        """A new running turn (produced by ``runner_id``, asked for by ``client``); TurnBusy if the
        conversation has one."""
        turn = Turn(new_id(), conversation_id, owner, "running", time.time(), runner_id, client)
        with _one_running_turn(), self._write() as db:
            _insert_turn(db, turn)
        return turn

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
        """The newest turn that still has its messages."""
        query = (
            select(turns)
            .where(
                turns.c.conversation_id == conversation_id,
                turns.c.status.not_in(("replaced", "undone", "edited", "cleared")),
            )
            .order_by(turns.c.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as db:
            row = db.execute(query).first()
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
    )


def _message_row(
    conversation_id: str,
    turn_id: str | None,
    kind: MessageKind,
    message: ChatMessage,
    now: float,
    status: MessageStatus = "complete",
    error: str | None = None,
) -> dict[str, Any]:
    """One row of ``messages`` (its id comes from the database)."""
    return {
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
    )
