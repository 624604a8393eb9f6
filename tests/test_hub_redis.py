"""The Redis hub against a real Redis: what the in-process hub does, across processes.

Two RedisHub objects stand for two workers (each has its own identity and lease); the turn
runner, the store and the Redis server are real.
"""

from __future__ import annotations

import threading
import time

import pytest

from webchat.hub.memory import Hub
from webchat.hub.redis import HubUnavailable, RedisHub, shown_url
from webchat.messages import ChatMessage
from webchat.store import Store, sqlite_url
from webchat.turns import TurnRunner

pytestmark = pytest.mark.services


@pytest.fixture
def store(tmp_path):
    s = Store(sqlite_url(tmp_path / "db.sqlite3"))
    yield s
    s.close()


@pytest.fixture
def hubs(redis_server):
    made: list[RedisHub] = []

    def make(lease: float = 15.0) -> RedisHub:
        hub = RedisHub(redis_server.url, lease_seconds=lease)
        made.append(hub)
        return hub

    yield make
    for hub in made:
        hub.stop_lease()  # (runner threads of a test may still be finishing: no close() under them)


def begin(store, hub, fn, text="hello"):
    runner = TurnRunner(store, hub, fn, server_name="The test model")
    conversation = store.create_conversation("s:me")
    turn = store.create_turn(conversation.id, "s:me")
    store.append(conversation.id, [ChatMessage(role="user", content=text)], turn_id=turn.id, kind="input")
    runner.start(turn, text, [])
    return runner, turn


def test_a_reply_is_stored_and_seen_by_another_worker(store, hubs):
    a, b = hubs(), hubs()

    def fn(message, history):
        yield from ["a", "ab", "abc"]

    _, turn = begin(store, a, fn)
    final = b.wait_final(turn.id, 10)
    assert final.final and final.status == "done"
    assert [m.message.content for m in final.stored] == ["abc"]
    assert final.reply[-1].content == "abc" and final.turn == turn
    assert store.get_turn(turn.id).status == "done"
    assert not a.has_runner(turn.id) and not b.has_runner(turn.id)


def test_versions_and_layout_are_the_same_as_in_one_process(store, hubs):
    steps = ["a", "ab", "xy", "xyz"]
    gate = threading.Event()

    def fn(message, history):
        yield from steps
        gate.wait(10)

    hubs_seen = {}
    for name, hub in (("local", Hub()), ("redis", hubs())):
        _, turn = begin(store, hub, fn)
        deadline = time.monotonic() + 10
        snapshot = hub.get(turn.id)
        while snapshot.version < len(steps) and time.monotonic() < deadline:
            snapshot = hub.wait(turn.id, snapshot.version, 1)
        hubs_seen[name] = (snapshot.version, snapshot.layout, snapshot.tail_text)
        gate.set()
        hub.wait_final(turn.id, 10)
        gate.clear()
    assert hubs_seen["redis"] == hubs_seen["local"] == (4, 1, "xyz")


def test_each_token_is_one_small_stream_entry_and_a_late_reader_gets_them_at_once(store, hubs):
    a, b = hubs(), hubs()
    release = threading.Event()
    words = [f"w{i} " for i in range(50)]

    def fn(message, history):
        text = ""
        for word in words:
            text += word
            yield text
        release.wait(10)

    _, turn = begin(store, a, fn)
    deadline = time.monotonic() + 10
    while a.redis.xlen(a._log_key(turn.id)) < 1 + len(words) and time.monotonic() < deadline:
        time.sleep(0.02)
    entries = a.redis.xrange(a._log_key(turn.id))
    assert len(entries) == 1 + len(words)  # the opening entry, then one per step
    appended = [fields for _, fields in entries if fields["k"] == "a"]
    assert [f["x"] for f in appended] == words[1:]  # only the new text, not the reply so far
    snapshot = b.wait(turn.id, 0, 5)  # a subscriber that was away gets everything in one read
    assert snapshot.version == len(words) and snapshot.tail_text == "".join(words)
    release.set()
    assert b.wait_final(turn.id, 10).status == "done"


def test_stop_from_another_worker_ends_the_turn_and_its_runner(store, hubs):
    a, b = hubs(), hubs()
    produced: list[int] = []
    closed = threading.Event()

    def fn(message, history):
        text = ""
        try:
            for i in range(200):
                text += f"t{i} "
                produced.append(i)
                yield text
                time.sleep(0.02)
        except GeneratorExit:
            closed.set()
            raise

    _, turn = begin(store, a, fn)
    assert b.wait(turn.id, 3, 5).version > 3
    stopper = TurnRunner(store, b, fn, server_name="x")  # worker B knows nothing of the runner
    assert stopper.stop(turn.id)
    assert not stopper.stop(turn.id)  # once
    assert closed.wait(5)  # the chat function on worker A was closed at its next step
    final = a.wait_final(turn.id, 5)
    assert final.status == "stopped"
    stored = store.turn_messages(turn.id, "reply")
    assert len(stored) == 1 and stored[0].status == "stopped"
    assert stored[0].message.content == final.stored[0].message.content
    assert len(produced) < 200
    assert store.get_turn(turn.id).status == "stopped"


def test_only_one_of_two_racing_claims_wins(store, hubs):
    a, b = hubs(), hubs()
    gate = threading.Event()

    def fn(message, history):
        yield "x"
        gate.wait(10)

    _, turn = begin(store, a, fn)
    a.wait(turn.id, 0, 5)
    results = []
    barrier = threading.Barrier(2)

    def claim(hub):
        barrier.wait()
        results.append(hub.claim_finish(turn.id, "stopped"))

    threads = [threading.Thread(target=claim, args=(hub,)) for hub in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sum(r is not None for r in results) == 1
    assert not a.publish(turn.id, [ChatMessage("x and more")])  # the runner would quit here
    gate.set()


def test_a_dead_runner_is_reaped_with_its_partial_reply_kept(store, hubs):
    a, b = hubs(lease=1.0), hubs(lease=1.0)
    hold = threading.Event()

    def fn(message, history):
        yield "partial words"
        hold.wait(20)  # the process "dies" here: it never yields again
        yield "partial words and more"

    _, turn = begin(store, a, fn)
    b.wait(turn.id, 0, 5)
    runner_b = TurnRunner(store, b, fn, server_name="x")
    assert b.has_runner(turn.id)
    assert runner_b.reap(grace=0) == 0  # alive: left alone
    a.stop_lease()  # worker A stops renewing its lease, as a killed process would
    deadline = time.monotonic() + 5
    while b.has_runner(turn.id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not b.has_runner(turn.id)
    assert runner_b.reap(grace=60) == 0  # too young to judge
    assert runner_b.reap(grace=0) == 1
    final = b.wait_final(turn.id, 5)
    assert final.final and final.status == "interrupted"
    [message] = store.turn_messages(turn.id, "reply")
    assert message.status == "interrupted" and message.message.content == "partial words"
    assert "Retry" in message.error
    assert store.get_turn(turn.id).status == "interrupted"
    hold.set()  # the runner wakes up: its next step is refused, nothing more is stored
    time.sleep(0.3)
    assert len(store.turn_messages(turn.id, "reply")) == 1


def test_a_turn_the_hub_never_saw_is_reaped_from_the_database_alone(store, hubs):
    hub = hubs()
    conversation = store.create_conversation("s:me")
    turn = store.create_turn(conversation.id, "s:me")  # its worker died before opening it
    runner = TurnRunner(store, hub, lambda m, h: "x", server_name="x")
    assert hub.get(turn.id) is None and not hub.has_runner(turn.id)
    assert runner.reap(grace=0) == 1
    assert store.get_turn(turn.id).status == "interrupted"
    assert store.turn_messages(turn.id, "reply")[0].status == "interrupted"


def test_unknown_turns_and_a_missing_redis(hubs):
    hub = hubs()
    assert hub.get("nope") is None
    assert hub.wait("nope", 0, 0.1) is None
    assert hub.wait_final("nope", 0.1) is None
    assert not hub.has_runner("nope")
    with pytest.raises(HubUnavailable) as error:
        RedisHub("redis://:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in str(error.value) and "127.0.0.1:1" in str(error.value)


def test_shown_url_hides_the_password():
    assert shown_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert shown_url("redis://user:pw@host/0") == "redis://user:***@host/0"
    assert shown_url("redis://host:6379/0") == "redis://host:6379/0"


def test_the_message_rate_is_one_count_across_workers(redis_server):
    # Defends against each worker allowing its own N messages a minute (N x workers in all).
    import redis

    from webchat.limits import RedisWindow

    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    worker_a = RedisWindow(client, 3, seconds=0.5, prefix="test:rate:")
    worker_b = RedisWindow(client, 3, seconds=0.5, prefix="test:rate:")
    assert [worker_a.hit("s:ann"), worker_b.hit("s:ann"), worker_a.hit("s:ann")] == [0, 0, 0]
    wait = worker_b.hit("s:ann")
    assert 0 < wait <= 0.5
    assert worker_a.hit("s:bob") == 0  # another owner has a count of its own
    time.sleep(0.6)
    assert worker_b.hit("s:ann") == 0  # the window slid past the first three
    assert RedisWindow(client, 0).hit("s:ann") == 0  # 0: no limit
    dead = RedisWindow(redis.Redis(port=1), 1)
    assert dead.hit("s:ann") == 0  # Redis gone: let messages through (the hub says it is down)
    client.close()


def test_an_answer_to_a_tool_call_reaches_the_worker_that_waits_for_it(hubs):
    # Allow or Deny is posted to whichever worker the browser reached; the runner is elsewhere.
    here, there = hubs(), hubs()
    assert there.decision("turn-1", "call-1") is None
    here.decide("turn-1", "call-1", True)
    here.decide("turn-1", "call-2", False)
    assert there.decision("turn-1", "call-1") is True and there.decision("turn-1", "call-2") is False
    assert there.decision("turn-2", "call-1") is None
