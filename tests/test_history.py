"""The history a chat function receives: the same as decoding every stored message, but read once
per conversation and extended; never stale after messages are removed or replaced."""

from __future__ import annotations

import time

import pytest

from webchat.conversation import history_dicts
from webchat.history import HistoryCache
from webchat.messages import ChatMessage
from webchat.store import Store, sqlite_url


@pytest.fixture
def store(tmp_path):
    store = Store(sqlite_url(tmp_path / "db.sqlite3"))
    yield store
    store.close()


def exchange(
    store: Store, conversation_id: str, question: str, *answers: ChatMessage, status="done", error=None
):
    turn = store.create_turn(conversation_id, "s:x")
    store.append(conversation_id, [ChatMessage(role="user", content=question)], turn_id=turn.id, kind="input")
    store.finish_turn(turn, status, list(answers), error=error)
    return turn


def reference(store: Store, conversation_id: str) -> list[dict]:
    return history_dicts(store.messages(conversation_id))


def test_history_equals_decoding_every_stored_message(store):
    c = store.create_conversation("s:x")
    exchange(store, c.id, "plain", ChatMessage(content="**bold** answer"))
    exchange(
        store,
        c.id,
        "thinking",
        ChatMessage(content="step one", metadata={"title": "Thinking", "status": "done", "duration": 1.5}),
        ChatMessage(content="pick one", options=[{"value": "a", "label": "A"}, {"value": "b"}]),
    )
    exchange(store, c.id, "a file", ChatMessage(content={"path": "/tmp/x.png", "mime_type": "image/png"}))
    exchange(store, c.id, "this fails", status="error", error="The model server cannot be reached.")
    exchange(store, c.id, "stopped early", ChatMessage(content="half"), status="stopped")
    expected = reference(store, c.id)
    assert len(expected) == 10  # the empty error row is not history
    assert HistoryCache(store).load(c.id) == expected


def test_before_id_leaves_out_the_turns_own_input(store):
    c = store.create_conversation("s:x")
    exchange(store, c.id, "first", ChatMessage(content="one"))
    turn = store.create_turn(c.id, "s:x")
    [sent] = store.append(c.id, [ChatMessage(role="user", content="second")], turn_id=turn.id, kind="input")
    history = HistoryCache(store).load(c.id, before_id=sent.id)
    assert [m["content"] for m in history] == ["first", "one"]


def test_new_messages_are_read_and_old_ones_are_not_read_again(store, monkeypatch):
    c = store.create_conversation("s:x")
    exchange(store, c.id, "q1", ChatMessage(content="a1"))
    cache = HistoryCache(store)
    assert len(cache.load(c.id)) == 2
    read_after = []
    rows = store.history_rows
    monkeypatch.setattr(
        store,
        "history_rows",
        lambda cid, after_id=0: read_after.append(after_id) or rows(cid, after_id=after_id),
    )
    exchange(store, c.id, "q2", ChatMessage(content="a2"))
    assert cache.load(c.id) == reference(store, c.id)
    assert read_after[0] > 0  # only what came after the messages it had


@pytest.mark.parametrize("prepared", [False, True])
@pytest.mark.parametrize("change", ["undo", "retry", "clear", "edit"])
def test_removed_or_replaced_messages_are_never_served_stale(store, change, prepared):
    c = store.create_conversation("s:x")
    exchange(store, c.id, "q1", ChatMessage(content="a1"))
    last = exchange(store, c.id, "q2", ChatMessage(content="a2"))
    cache = HistoryCache(store, prepare_from=0)
    cache.load(c.id)
    if prepared:
        cache.prepare(c.id)  # copies made after the last reply must not outlive what they copied
    time.sleep(0.01)  # the replacements get a later creation time, as in real use
    if change == "undo":
        store.remove_turn(last)
        exchange(store, c.id, "other question", ChatMessage(content="other answer"))
    elif change == "retry":
        turn = store.restart_turn(last)
        store.finish_turn(turn, "done", [ChatMessage(content="a better a2")])
    elif change == "clear":
        store.clear_conversation(c.id)
        exchange(store, c.id, "fresh", ChatMessage(content="start"))
    else:
        first_of_last = store.turn_messages(last.id, "input")[0]
        store.delete_messages_from(c.id, first_of_last.id)
        exchange(store, c.id, "q2 edited", ChatMessage(content="a2 again"))
    assert cache.load(c.id) == reference(store, c.id)


def test_a_chat_function_editing_its_history_changes_nothing_for_the_next_turn(store):
    c = store.create_conversation("s:x")
    exchange(store, c.id, "q1", ChatMessage(content="a1", metadata={"title": "t"}))
    cache = HistoryCache(store)
    first = cache.load(c.id)
    first[0]["content"] = "changed"
    first[1]["metadata"]["title"] = "changed"
    first.append({"role": "user", "content": "added"})
    assert cache.load(c.id) == reference(store, c.id)


def test_copies_made_after_a_reply_are_handed_out_once(store):
    # Defends against two turns sharing history dicts (one chat function's edit showing in another).
    c = store.create_conversation("s:x")
    exchange(store, c.id, "q1", ChatMessage(content="a1", metadata={"title": "t"}))
    cache = HistoryCache(store, prepare_from=0)
    cache.load(c.id)
    cache.prepare(c.id)
    exchange(store, c.id, "q2", ChatMessage(content="a2"))  # what came after the copies were made
    first, second = cache.load(c.id), cache.load(c.id)
    assert first == second == reference(store, c.id)
    assert all(a is not b and a["metadata"] is not b["metadata"] for a, b in zip(first, second, strict=True))
    first[0]["content"] = "changed"
    first[1]["metadata"]["title"] = "changed"
    assert second == cache.load(c.id) == reference(store, c.id)


def test_a_finished_turn_prepares_the_next_ones_history(tmp_path):
    # Defends against the copies for the next reply never being made (its start then copies all).
    from conftest import csrf_of, settings_for

    from webchat.app import create_app

    app = create_app(settings_for(tmp_path), lambda message, history: f"{len(history)} before")
    services = app.extensions["webchat"]
    services.conversations.histories = HistoryCache(services.store, prepare_from=1)
    client = app.test_client()
    token = csrf_of(client)
    sent = client.post("/turns", data={"text": "hi"}, headers={"HX-Request": "true", "X-CSRF-Token": token})
    conversation_id = sent.headers["HX-Push-Url"].rsplit("/", 1)[1]
    histories = services.conversations.histories
    deadline = time.monotonic() + 10
    while not ((entry := histories._entries.get(conversation_id)) and entry.spare):
        assert time.monotonic() < deadline, "no copies were made after the reply"
        time.sleep(0.02)
    assert [m["content"] for m in entry.spare] == ["hi", "0 before"]
    again = client.post(
        "/turns",
        data={"text": "more", "conversation_id": conversation_id},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert again.status_code == 200
    deadline = time.monotonic() + 10
    while [m.message.content for m in app.extensions["webchat"].store.messages(conversation_id)][-1:] != [
        "2 before"
    ]:
        assert time.monotonic() < deadline, "the second reply did not see the first exchange"
        time.sleep(0.02)


def test_a_short_conversation_is_not_prepared(store):
    c = store.create_conversation("s:x")
    exchange(store, c.id, "q1", ChatMessage(content="a1"))
    cache = HistoryCache(store, prepare_from=3)
    cache.prepare(c.id)  # unknown here yet: nothing to do
    cache.load(c.id)
    cache.prepare(c.id)
    assert cache._entries[c.id].spare is None
    exchange(store, c.id, "q2", ChatMessage(content="a2"))
    cache.load(c.id)
    cache.prepare(c.id)
    assert len(cache._entries[c.id].spare) == 4


def test_the_cache_keeps_a_bounded_number_of_messages(store):
    cache = HistoryCache(store, keep_messages=5)
    ids = []
    for _ in range(3):
        c = store.create_conversation("s:x")
        exchange(store, c.id, "q", ChatMessage(content="a"))
        exchange(store, c.id, "q", ChatMessage(content="a"))
        cache.load(c.id)
        ids.append(c.id)
    assert list(cache._entries) == [ids[-1]]  # 4 messages each: only the newest fits
    assert cache.load(ids[0]) == reference(store, ids[0])  # an evicted one is read again
