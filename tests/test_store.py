"""The SQLite store: one row per message, atomic appends, owners kept apart, survives restarts."""

import threading

import pytest

from webchat.messages import ChatMessage
from webchat.store import Store, sqlite_url


@pytest.fixture
def store(tmp_path):
    s = Store(sqlite_url(tmp_path / "db.sqlite3"))
    yield s
    s.close()


def test_conversations_belong_to_their_owner(store):
    mine = store.create_conversation("s:me")
    assert store.get_conversation("s:me", mine.id) == mine
    assert store.get_conversation("s:you", mine.id) is None
    assert store.list_conversations("s:you") == []
    assert not store.delete_conversation("s:you", mine.id)
    assert store.delete_conversation("s:me", mine.id)
    assert store.get_conversation("s:me", mine.id) is None


def test_title_comes_from_the_first_user_message(store):
    c = store.create_conversation("s:me")
    store.append(
        c.id, [ChatMessage(role="user", content="  What is\n the  capital of France?  ")], kind="input"
    )
    store.append(c.id, [ChatMessage(role="user", content="second")], kind="input")
    assert store.get_conversation("s:me", c.id).title == "What is the capital of France?"


def test_titles_drop_markdown_marks(store):
    c = store.create_conversation("s:me")
    store.append(c.id, [ChatMessage(role="user", content="# Fix **my_var** in `main.py`")], kind="input")
    assert store.get_conversation("s:me", c.id).title == "Fix my_var in main.py"


def test_messages_keep_order_and_content(store):
    c = store.create_conversation("s:me")
    store.append(
        c.id,
        [
            ChatMessage(role="user", content="a"),
            ChatMessage(role="user", content={"path": "/x/f.txt", "orig_name": "f.txt"}),
        ],
        kind="input",
    )
    store.append(c.id, [ChatMessage("b", metadata={"title": "t"})])
    got = store.messages(c.id)
    assert [m.message.content if isinstance(m.message.content, str) else "file" for m in got] == [
        "a",
        "file",
        "b",
    ]
    assert got[1].message.content["orig_name"] == "f.txt"
    assert got[2].message.metadata == {"title": "t"}
    assert [m.message.content for m in store.messages(c.id, limit=1)] == ["b"]


def test_concurrent_appends_all_survive(tmp_path):
    """Two writers (as two tabs or two workers) append at once: nothing is lost."""
    url = sqlite_url(tmp_path / "db.sqlite3")
    first, second = Store(url), Store(url)
    c = first.create_conversation("s:me")
    barrier = threading.Barrier(8)

    def writer(store, n):
        barrier.wait()
        for i in range(25):
            store.append(c.id, [ChatMessage(role="user", content=f"{n}-{i}")], kind="input")

    threads = [threading.Thread(target=writer, args=(first if n % 2 else second, n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    contents = [m.message.content for m in first.messages(c.id)]
    assert len(contents) == 200
    assert len(set(contents)) == 200
    for n in range(8):  # each writer's messages stay in the order it wrote them
        mine = [x for x in contents if x.startswith(f"{n}-")]
        assert mine == [f"{n}-{i}" for i in range(25)]


def test_everything_survives_a_restart(tmp_path):
    url = sqlite_url(tmp_path / "db.sqlite3")
    store = Store(url)
    c = store.create_conversation("s:me")
    store.append(c.id, [ChatMessage(role="user", content="remember me")], kind="input")
    store.close()
    again = Store(url)
    assert [m.message.content for m in again.messages(c.id)] == ["remember me"]


def test_turns_finish_with_their_reply(store):
    c = store.create_conversation("s:me")
    turn = store.create_turn(c.id, "s:me")
    assert store.running_turn(c.id) == turn
    stored = store.finish_turn(turn, "done", [ChatMessage("answer")])
    assert store.running_turn(c.id) is None
    assert store.get_turn(turn.id).status == "done"
    assert [m.kind for m in stored] == ["reply"]


def test_an_error_without_text_still_gets_a_row(store):
    c = store.create_conversation("s:me")
    turn = store.create_turn(c.id, "s:me")
    [row] = store.finish_turn(turn, "error", [], error="The model server cannot be reached.")
    assert row.status == "error"
    assert row.error == "The model server cannot be reached."


def test_restart_interrupts_running_turns(store):
    c = store.create_conversation("s:me")
    turn = store.create_turn(c.id, "s:me")
    assert store.interrupt_running_turns("The server restarted.") == 1
    assert store.get_turn(turn.id).status == "interrupted"
    assert store.messages(c.id)[-1].error == "The server restarted."


def test_retry_moves_the_input_to_a_new_turn_and_drops_the_reply(store):
    c = store.create_conversation("s:me")
    old = store.create_turn(c.id, "s:me")
    store.append(c.id, [ChatMessage(role="user", content="q")], turn_id=old.id, kind="input")
    store.finish_turn(old, "done", [ChatMessage("bad answer")])
    new = store.restart_turn(old)
    assert [m.message.content for m in store.messages(c.id)] == ["q"]
    assert [m.message.content for m in store.turn_messages(new.id, "input")] == ["q"]
    assert store.running_turn(c.id) == new
