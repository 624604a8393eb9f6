"""The tree of a conversation's messages (webchat.store.tree): versions, the selected branch, and
the migration that makes linear conversations one-branch trees, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import create_engine, text

from webchat.history import HistoryCache
from webchat.messages import ChatMessage
from webchat.store import Store, TurnBusy, sqlite_url
from webchat.store.engine import engine_url
from webchat.store.migrate import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "db.sqlite3")
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def store(url):
    s = Store(url)
    yield s
    s.close()


def turn(store, c, text_, reply, *, branch_from=None):
    t, _ = store.start_turn(c.id, "s:me", [ChatMessage(role="user", content=text_)], branch_from=branch_from)
    store.finish_turn(t, "done", [ChatMessage(reply)])
    return store.get_turn(t.id)


def retry(store, old, reply):
    t = store.restart_turn(old)
    store.finish_turn(t, "done", [ChatMessage(reply)])
    return store.get_turn(t.id)


def shown(store, c):
    return [m.message.content for m in store.messages(c.id)]


def by_text(store, c, content):
    return next(m for m in store.all_messages(c.id) if m.message.content == content)


def test_a_retry_keeps_the_old_reply_as_a_version(store):
    c = store.create_conversation("s:me")
    first = turn(store, c, "q", "a1")
    second = retry(store, first, "a2")
    assert shown(store, c) == ["q", "a2"]
    a2 = store.messages(c.id)[-1]
    versions = store.versions(c.id, store.messages(c.id))
    assert set(versions) == {a2.id}  # the question has one version: no control on it
    assert (versions[a2.id].index, versions[a2.id].count) == (2, 2)
    assert versions[a2.id].previous == by_text(store, c, "a1").ref and versions[a2.id].following is None
    assert [m.message.content for m in store.turn_messages(second.id, "input")] == ["q"]
    store.select_version(by_text(store, c, "a1"))
    assert shown(store, c) == ["q", "a1"]
    third = retry(store, store.last_turn(c.id), "a3")  # a retry of a retry answers the same input
    assert third.inputs_from == first.id
    assert shown(store, c) == ["q", "a3"]
    a3 = store.messages(c.id)[-1]
    assert (store.versions(c.id, [a3])[a3.id].index, store.versions(c.id, [a3])[a3.id].count) == (3, 3)


def test_retrying_an_earlier_reply_keeps_what_followed_on_the_old_branch(store):
    c = store.create_conversation("s:me")
    first = turn(store, c, "q1", "a1")
    turn(store, c, "q2", "a2")
    turn(store, c, "q3", "a3")
    retry(store, first, "a1 again")
    assert shown(store, c) == ["q1", "a1 again"]
    turn(store, c, "q2 on the new branch", "b2")
    # Switching back shows the old version with the conversation carried on from it, to its end.
    store.select_version(by_text(store, c, "a1"))
    assert shown(store, c) == ["q1", "a1", "q2", "a2", "q3", "a3"]
    store.select_version(by_text(store, c, "a1 again"))
    assert shown(store, c) == ["q1", "a1 again", "q2 on the new branch", "b2"]
    # Selecting the version already shown changes nothing.
    store.select_version(by_text(store, c, "a1 again"))
    assert shown(store, c) == ["q1", "a1 again", "q2 on the new branch", "b2"]


def test_an_edit_makes_a_version_of_the_message_with_its_own_reply(store):
    c = store.create_conversation("s:me")
    turn(store, c, "q1", "a1")
    turn(store, c, "q2", "a2")
    q2 = by_text(store, c, "q2")
    turn(store, c, "q2 edited", "a2 edited", branch_from=q2.id)
    assert shown(store, c) == ["q1", "a1", "q2 edited", "a2 edited"]
    edited = by_text(store, c, "q2 edited")
    assert edited.parent_id == q2.parent_id
    v = store.versions(c.id, [edited])[edited.id]
    assert (v.index, v.count, v.previous, v.following) == (2, 2, q2.ref, None)
    store.select_version(q2)
    assert shown(store, c) == ["q1", "a1", "q2", "a2"]
    # The first message of a conversation has versions too (its parent is none).
    q1 = by_text(store, c, "q1")
    turn(store, c, "q1 edited", "a1 edited", branch_from=q1.id)
    assert shown(store, c) == ["q1 edited", "a1 edited"]
    store.select_version(q1)
    assert shown(store, c) == ["q1", "a1", "q2", "a2"]


def test_undo_after_an_edit_shows_the_message_it_replaced(store):
    c = store.create_conversation("s:me")
    turn(store, c, "q1", "a1")
    q1 = by_text(store, c, "q1")
    edit = turn(store, c, "q1 edited", "a1 edited", branch_from=q1.id)
    retry(store, edit, "a1 edited again")
    undone = store.remove_turn(store.last_turn(c.id))
    assert [m.message.content for m in undone] == ["q1 edited"]
    assert shown(store, c) == ["q1", "a1"]
    # Its reply's versions went with it.
    assert {m.message.content for m in store.all_messages(c.id)} == {"q1", "a1"}
    store.remove_turn(store.last_turn(c.id))
    assert shown(store, c) == [] and store.all_messages(c.id) == []


def test_a_turn_refused_as_busy_changes_no_branch(store):
    c = store.create_conversation("s:me")
    turn(store, c, "q1", "a1")
    running, _ = store.start_turn(c.id, "s:me", [ChatMessage(role="user", content="q2")])
    q1 = by_text(store, c, "q1")
    with pytest.raises(TurnBusy):
        store.start_turn(c.id, "s:me", [ChatMessage(role="user", content="other")], branch_from=q1.id)
    with pytest.raises(TurnBusy):  # the branch a running reply will end on stays selected
        store.select_version(q1)
    assert shown(store, c) == ["q1", "a1", "q2"]
    store.finish_turn(running, "done", [ChatMessage("a2")])
    assert shown(store, c) == ["q1", "a1", "q2", "a2"]


def test_a_program_that_sets_the_chatbot_replaces_every_branch_after_what_it_kept(store):
    c = store.create_conversation("s:me")
    first = turn(store, c, "q1", "a1")
    retry(store, first, "a1b")
    store.rewrite(c, 1, [("reply", [ChatMessage("set by the program")])])
    assert shown(store, c) == ["q1", "set by the program"]
    assert store.versions(c.id, store.messages(c.id)) == {}


def test_a_cached_history_follows_a_change_of_branch(store):
    c = store.create_conversation("s:me")
    first = turn(store, c, "q1", "a1")
    turn(store, c, "q2", "a2")
    cache = HistoryCache(store)
    assert [m["content"] for m in cache.load(c.id)] == ["q1", "a1", "q2", "a2"]
    retry(store, first, "b1")
    assert [m["content"] for m in cache.load(c.id)] == ["q1", "b1"]
    store.select_version(by_text(store, c, "a1"))
    assert [m["content"] for m in cache.load(c.id)] == ["q1", "a1", "q2", "a2"]


def test_loading_reads_only_the_selected_branch_in_order(store):
    c = store.create_conversation("s:me")
    first = turn(store, c, "q1", "a1")
    for n in range(5):
        retry(store, store.last_turn(c.id), f"v{n}")
    turn(store, c, "q2", "a2")
    assert shown(store, c) == ["q1", "v4", "q2", "a2"]
    assert store.count_messages(c.id) == 4
    assert [m.message.content for m in store.messages(c.id, limit=2)] == ["q2", "a2"]
    assert len(store.all_messages(c.id)) == 9
    assert first.status == "done"


def test_the_migration_makes_each_stored_conversation_one_branch(url):
    engine = create_engine(engine_url(url))
    upgrade(engine, "0010")
    with engine.begin() as db:
        for cid in ("c1", "c2"):
            db.execute(text(f"INSERT INTO conversations VALUES ('{cid}', 's:x', 'Old', 1, 1, NULL)"))
        # Interleaved, as two conversations written at once are.
        for n, cid in enumerate(["c1", "c2", "c1", "c2", "c1"]):
            role = "user" if n < 2 else "assistant"
            db.execute(
                text(
                    "INSERT INTO messages (conversation_id, kind, role, data, status, created_at, ref)"
                    f" VALUES ('{cid}', 'input', '{role}', '{{\"role\": \"{role}\", \"content\": \"m{n}\"}}',"
                    f" 'complete', {n}, 'r{n}')"
                )
            )
    engine.dispose()
    store = Store(url)
    try:
        c1 = store.messages("c1")
        assert [m.message.content for m in c1] == ["m0", "m2", "m4"]
        assert [m.parent_id for m in c1] == [None, c1[0].id, c1[1].id]
        c2 = store.messages("c2")
        assert [m.parent_id for m in c2] == [None, c2[0].id]
        assert store.versions("c1", c1) == {}
    finally:
        store.close()
