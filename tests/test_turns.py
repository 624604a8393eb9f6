"""The turn runner and hub: replies are produced and stored whether or not anyone watches."""

import threading
import time

import pytest

from webchat.hub import is_append
from webchat.hub.memory import Hub
from webchat.messages import ChatMessage
from webchat.store import Store, sqlite_url
from webchat.turns import TurnRunner


@pytest.fixture
def store(tmp_path):
    s = Store(sqlite_url(tmp_path / "db.sqlite3"))
    yield s
    s.close()


def start(store, fn):
    hub = Hub()
    runner = TurnRunner(store, hub, fn, server_name="The test model")
    c = store.create_conversation("s:me")
    turn = store.create_turn(c.id, "s:me")
    runner.start(turn, "hello", [])
    return hub, runner, turn


def test_is_append():
    a = [ChatMessage("Hel")]
    assert is_append([], [ChatMessage("H")])
    assert is_append(a, [ChatMessage("Hello")])
    assert not is_append(a, [ChatMessage("Hex")])
    assert not is_append(a, [ChatMessage("Hel"), ChatMessage("x")])
    assert not is_append(a, [ChatMessage("Hello", metadata={"title": "t"})])


def test_a_reply_is_stored_without_any_subscriber(store):
    def fn(message, history):
        yield from ["a", "ab", "abc"]

    hub, _, turn = start(store, fn)
    final = hub.wait_final(turn.id, 5)
    assert final.final and final.status == "done"
    assert [m.message.content for m in final.stored] == ["abc"]
    assert store.get_turn(turn.id).status == "done"


def test_versions_and_layout_track_changes(store):
    gate = threading.Event()

    def fn(message, history):
        yield "a"
        yield "ab"
        yield "xy"  # not an append: a replace
        gate.wait(5)

    hub, _, turn = start(store, fn)
    deadline = time.monotonic() + 5
    snap = hub.get(turn.id)
    while snap.tail_text != "xy" and time.monotonic() < deadline:
        snap = hub.wait(turn.id, snap.version, 1)
    assert snap.tail_text == "xy"
    assert snap.layout == 1  # "a" and "ab" were appends, "xy" replaced
    gate.set()
    assert hub.wait_final(turn.id, 5).status == "done"


def test_stop_ends_the_turn_at_once_even_while_the_function_blocks(store):
    release = threading.Event()

    def fn(message, history):
        yield "partial"
        release.wait(10)  # a model that takes its time for the next token
        yield "partial and more"

    hub, runner, turn = start(store, fn)
    while (snap := hub.get(turn.id)).tail_text != "partial":
        hub.wait(turn.id, snap.version, 1)
    assert runner.stop(turn.id)
    final = hub.wait_final(turn.id, 1)  # the function is still blocked: Stop does not wait for it
    assert final.status == "stopped"
    assert [(m.message.content, m.status) for m in final.stored] == [("partial", "stopped")]
    release.set()
    time.sleep(0.1)
    assert [m.message.content for m in store.messages(turn.conversation_id)] == ["partial"]
    assert not runner.stop(turn.id)  # stopping twice is harmless


def test_an_error_mid_reply_keeps_the_partial_text(store):
    def fn(message, history):
        yield "half a"
        raise ConnectionError("boom")

    hub, _, turn = start(store, fn)
    final = hub.wait_final(turn.id, 5)
    assert final.status == "error"
    [row] = final.stored
    assert row.message.content == "half a"
    assert row.status == "error"
    assert "cannot be reached" in row.error
    assert "boom" not in row.error


def test_a_bug_in_the_function_is_reported_without_details(store):
    def fn(message, history):
        raise KeyError("/secret/path")

    hub, _, turn = start(store, fn)
    final = hub.wait_final(turn.id, 5)
    assert final.stored[0].error == "The chat function failed (KeyError). The details are in the server log."


def test_webchat_error_shows_its_message(store):
    import webchat

    def fn(message, history):
        raise webchat.Error("Quota used up for today.")

    hub, _, turn = start(store, fn)
    assert hub.wait_final(turn.id, 5).stored[0].error == "Quota used up for today."


def test_stop_cancels_an_async_chat_function_where_it_awaits(store):
    # Defends against a stopped async reply that awaits forever holding its runner (and never
    # running its finally blocks): the stop cancels the await on webchat's asyncio loop.
    import asyncio

    started, closed = threading.Event(), threading.Event()

    async def fn(message, history):
        yield "so far"
        started.set()
        try:
            await asyncio.Event().wait()  # nothing will ever set it
        finally:
            closed.set()

    hub, runner, turn = start(store, fn)
    assert started.wait(30)
    assert hub.wait(turn.id, 0, 30) is not None
    assert runner.stop(turn.id)
    assert closed.wait(30), "the async generator was not cancelled"
    final = hub.wait_final(turn.id, 30)
    assert final.status == "stopped" and [m.message.content for m in final.stored] == ["so far"]


def test_async_chat_functions_run_side_by_side_on_one_loop(store):
    # Defends against one event loop per reply: the second reply's loop failed while the first ran.
    import asyncio

    both = threading.Barrier(2, timeout=30)

    async def fn(message, history):
        await asyncio.to_thread(both.wait)  # each reply waits here until the other has come too
        yield "together"

    runs = [start(store, fn) for _ in range(2)]
    for hub, _, turn in runs:
        assert hub.wait_final(turn.id, 30).status == "done"
