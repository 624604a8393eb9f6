"""Migrations build exactly schema.py, on SQLite and PostgreSQL; old databases are brought up to
date with their data; several workers may start at once; and the store works the same on both."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, Table, create_engine, inspect, text

from webchat.messages import ChatMessage
from webchat.store import Store, TurnBusy, sqlite_url
from webchat.store.engine import engine_url
from webchat.store.logins import Logins
from webchat.store.migrate import MIGRATIONS, SchemaError, check, current, head, upgrade
from webchat.store.schema import metadata


def differences(engine) -> list:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), metadata)


def revision_of(engine) -> str | None:
    with engine.connect() as connection:
        return current(connection)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "db.sqlite3")
    return request.getfixturevalue("postgres").new_database()


def test_a_new_database_is_built_at_head_exactly_as_schema_py_says(url):
    store = Store(url)
    try:
        assert revision_of(store.engine) == head()
        found = differences(store.engine)
        assert found == [], (
            "schema.py and the migrations differ: write a migration with "
            f'python -m webchat.store.migrate revision -m "…" ({found})'
        )
    finally:
        store.close()


def test_starting_again_changes_nothing(url):
    Store(url).close()
    store = Store(url)
    assert revision_of(store.engine) == head()
    store.close()


def test_the_migrations_ship_inside_the_package():
    assert MIGRATIONS.parent.name == "store" and (MIGRATIONS / "env.py").exists()
    assert (MIGRATIONS / "script.py.mako").exists()
    assert sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("0*.py"))[0] == "0001"


def make_legacy(url: str, revision: str) -> None:
    """A database as create_all made it before migrations: tables, but no alembic_version."""
    engine = create_engine(engine_url(url))
    upgrade(engine, revision)
    with engine.begin() as db:
        db.execute(text("DROP TABLE alembic_version"))
        db.execute(
            text(
                "INSERT INTO conversations (id, owner, title, created_at, updated_at) "
                "VALUES ('c1', 's:x', 'Old', 1, 1)"
            )
        )
        db.execute(
            text(
                "INSERT INTO messages (conversation_id, kind, role, data, status, created_at) "
                """VALUES ('c1', 'input', 'user', '{"role": "user", "content": "kept"}', 'complete', 1)"""
            )
        )
    engine.dispose()


@pytest.mark.parametrize("revision", ["0001", "0002", "head"])
def test_a_database_from_before_migrations_is_upgraded_with_its_data(url, revision):
    make_legacy(url, revision)
    store = Store(url)
    try:
        assert revision_of(store.engine) == head()
        assert differences(store.engine) == []
        [conversation] = store.list_conversations("s:x")
        assert conversation.title == "Old"
        assert [m.message.content for m in store.messages("c1")] == ["kept"]
        if revision != "head":  # 0008 gave the stored message its random URL id
            assert [len(m.ref) for m in store.messages("c1")] == [12]
    finally:
        store.close()


def test_several_workers_starting_at_once_all_come_up(url):
    code = f"from webchat.store import Store; Store({url!r}).close(); print('up')"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in results]
    assert [out.strip() for out, _ in results] == ["up"] * 4
    engine = create_engine(engine_url(url))
    assert revision_of(engine) == head()
    engine.dispose()


def test_a_table_no_migration_creates_stops_the_start(tmp_path):
    Store(sqlite_url(tmp_path / "db.sqlite3")).close()
    extra = Table("forgotten_table", metadata, Column("id", Integer, primary_key=True))
    try:
        with pytest.raises(SchemaError) as error:
            Store(sqlite_url(tmp_path / "db.sqlite3"))
        assert "forgotten_table" in str(error.value) and "webchat.store.migrate revision" in str(error.value)
    finally:
        metadata.remove(extra)
    check(create_engine(sqlite_url(tmp_path / "db.sqlite3")))


def test_the_migrate_command(tmp_path):
    url = sqlite_url(tmp_path / "cli.sqlite3")
    result = subprocess.run(
        [sys.executable, "-m", "webchat.store.migrate", "upgrade", url],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == [head(), "(head)"]


def test_postgres_urls_use_psycopg_3():
    assert engine_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("sqlite:////tmp/x") == "sqlite:////tmp/x"


# The store, the same on both databases


@pytest.fixture
def store(url):
    s = Store(url)
    yield s
    s.close()


def test_messages_keep_their_order_ids_and_text(store):
    c = store.create_conversation("u:ann")
    first = store.append(c.id, [ChatMessage(role="user", content='héllo 👋 "quoted" \\ back')])
    second = store.append(c.id, [ChatMessage("a"), ChatMessage("b", metadata={"title": "t"})])
    ids = [m.id for m in first + second]
    assert ids == sorted(ids) and len(set(ids)) == 3
    stored = store.messages(c.id)
    assert [m.id for m in stored] == ids
    assert stored[0].message.content == 'héllo 👋 "quoted" \\ back'
    assert stored[2].message.metadata == {"title": "t"}
    assert [m.id for m in store.messages(c.id, limit=2)] == ids[1:]
    assert store.get_conversation("u:ann", c.id).title == 'héllo 👋 "quoted" \\ back'
    assert store.get_conversation("u:bob", c.id) is None


def test_search_treats_like_wildcards_as_text(store):
    c = store.create_conversation("u:ann")
    store.append(c.id, [ChatMessage(role="user", content="100% sure_thing")])
    other = store.create_conversation("u:ann")
    store.append(other.id, [ChatMessage(role="user", content="100 percent")])
    assert [x.id for x in store.list_conversations("u:ann", search="100%")] == [c.id]
    assert [x.id for x in store.list_conversations("u:ann", search="SURE_")] == [c.id]


def test_a_turn_ends_once_even_when_two_workers_race(store):
    c = store.create_conversation("u:ann")
    turn = store.create_turn(c.id, "u:ann")
    assert store.running_turns() == [turn]
    first = store.finish_turn(turn, "stopped", [ChatMessage("partial")])
    second = store.finish_turn(turn, "interrupted", [ChatMessage("other")], error="gone")
    assert first is not None and second is None
    assert [m.message.content for m in store.turn_messages(turn.id, "reply")] == ["partial"]
    assert store.get_turn(turn.id).status == "stopped" and store.running_turns() == []


def test_deleting_a_conversation_removes_its_messages(store):
    c = store.create_conversation("u:ann")
    store.append(c.id, [ChatMessage(role="user", content="x")])
    store.create_turn(c.id, "u:ann")
    store.delete_conversation("u:ann", c.id)
    store.purge_deleted(time.time() + 1)
    with store.engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM messages")).scalar() == 0
        assert db.execute(text("SELECT count(*) FROM turns")).scalar() == 0


def test_sign_in_sessions_and_failures(store):
    logins = Logins(store.engine)
    token = logins.create("ann")
    assert logins.user_of(token) == "ann" and logins.user_of(token + "x") is None
    logins.end(token)
    assert logins.user_of(token) is None
    logins.record_failure(["user:ann", "addr:192.0.2.1"], 60)
    logins.record_failure(["user:ann"], 60)
    assert logins.failures("user:ann", 60).count == 2
    assert logins.failures("addr:192.0.2.1", 60).count == 1
    logins.clear_failures("user:ann")
    assert logins.failures("user:ann", 60).count == 0
    with store.engine.connect() as db:
        names = set(inspect(db).get_table_names())
    assert {"logins", "login_failures"} <= names


def test_an_expired_session_signs_nobody_in(store):
    logins = Logins(store.engine, session_seconds=-1)
    assert logins.user_of(logins.create("ann")) is None


def test_a_missing_driver_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(RuntimeError, match=r"webchat\[postgres\]"):
        Store("postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.services
def test_the_app_uses_the_database_url(tmp_path, postgres):
    from conftest import settings_for, slow_words

    from webchat.app import create_app

    url = postgres.new_database()
    app = create_app(settings_for(tmp_path, database_url=url), slow_words(["x"], 0))
    assert app.extensions["webchat"].store.engine.dialect.name == "postgresql"
    assert not Path(tmp_path / "data" / "webchat.sqlite3").exists()


def test_two_workers_cannot_start_two_replies_in_one_conversation(store):
    # Defends against two workers (each with its own lock) both starting a reply at the same instant.
    c = store.create_conversation("u:ann")
    first = store.create_turn(c.id, "u:ann")
    with pytest.raises(TurnBusy, match="still being written"):
        store.create_turn(c.id, "u:ann")
    store.finish_turn(first, "done", [ChatMessage("one")])
    with pytest.raises(TurnBusy):
        second = store.create_turn(c.id, "u:ann")
        store.restart_turn(first)
    assert [t.id for t in store.running_turns()] == [second.id]
    store.finish_turn(second, "done", [ChatMessage("two")])
    retried = store.restart_turn(second)
    other = store.create_conversation("u:ann")  # another conversation may run a reply meanwhile
    elsewhere = store.create_turn(other.id, "u:ann")
    assert {t.id for t in store.running_turns()} == {retried.id, elsewhere.id}


def test_upgrading_keeps_only_the_newest_running_turn_of_a_conversation(url):
    # Defends against the new unique index failing on a database where two workers raced before.
    engine = create_engine(engine_url(url))
    upgrade(engine, "0004")
    with engine.begin() as db:
        db.execute(text("INSERT INTO conversations VALUES ('c1', 's:x', 'Old', 1, 1, NULL)"))
        for turn_id, created in (("old", 1), ("new", 2), ("done", 0)):
            status = "done" if turn_id == "done" else "running"
            db.execute(
                text(
                    f"INSERT INTO turns (id, conversation_id, owner, status, created_at) "
                    f"VALUES ('{turn_id}', 'c1', 's:x', '{status}', {created})"
                )
            )
    upgrade(engine)
    with engine.connect() as db:
        statuses = dict(db.execute(text("SELECT id, status FROM turns")).all())
    engine.dispose()
    assert statuses == {"old": "interrupted", "new": "running", "done": "done"}
