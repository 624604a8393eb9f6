"""Two webchat instances (gunicorn, gevent worker) sharing PostgreSQL 15 and Redis 7, on loopback.

A turn started on instance A streams to a socket on instance B and to a page reloaded on B;
a stop sent to B stops A's runner; and killing A mid-reply loses no user message and leaves an
"interrupted" reply that B retries.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import free_port, wait_for_http, wait_for_port
from webclient import TURN_ID, WS_URL, PageClient, frames_until_close

pytestmark = pytest.mark.services

TESTS = Path(__file__).resolve().parent
LEASE_SECONDS = 2
CONVERSATION = re.compile(r'name="conversation_id" id="conversation-id" value="([^"]*)"')


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL to gunicorn's master and workers: no goodbye, no cleanup, like a crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_instance(name: str, env: dict[str, str], folder: Path) -> Instance:
    port = free_port()
    log = folder / f"gunicorn-{name}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-k",
        "gevent",
        "-w",
        "1",
        "--no-control-socket",
        "--graceful-timeout",
        "3",
        "-b",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(TESTS),
        "scaleout_app:app",
    ]
    instance_env = {**env, "SCALEOUT_NAME": name, "WEBCHAT_DATA_DIR": str(folder / f"data-{name}")}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=instance_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_port(port, timeout=60, process=process)
        wait_for_http(f"http://127.0.0.1:{port}/new", timeout=120, process=process)
    except Exception:
        raise AssertionError(f"instance {name} did not start:\n{log.read_text()}") from None
    return Instance(name, port, process, log)


@dataclass
class Cluster:
    a: Instance
    b: Instance
    marks: Path
    database_url: str


@pytest.fixture(scope="module")
def cluster(postgres, redis_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scaleout")
    marks = folder / "marks"
    marks.mkdir()
    database_url = postgres.new_database()
    redis_server_url = redis_server.url
    env = {
        **os.environ,
        "WEBCHAT_DATABASE_URL": database_url,
        "WEBCHAT_REDIS_URL": redis_server_url,
        "WEBCHAT_SECRET_KEY": "one key for every instance",
        "WEBCHAT_RUNNER_LEASE_SECONDS": str(LEASE_SECONDS),
        "SCALEOUT_MARKS": str(marks),
    }
    a = start_instance("a", env, folder)
    b = start_instance("b", env, folder)
    yield Cluster(a, b, marks, database_url)
    for instance in (a, b):
        instance.stop()


def same_browser(page: PageClient, base_url: str) -> PageClient:
    """The same browser (cookies) talking to another instance."""
    other = PageClient(base_url)
    other.jar = page.jar
    other.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(page.jar))
    assert isinstance(other.jar, http.cookiejar.CookieJar)
    return other


def start_turn(cluster: Cluster, text: str) -> tuple[PageClient, PageClient, str, str, str]:
    """Send ``text`` to instance A; returns A's and B's clients, the turn, its conversation, and
    the turn's socket URL pointed at instance B."""
    on_a = PageClient(cluster.a.url)
    reply = on_a.send(text)
    assert reply.status == 200, reply.text
    turn_id = TURN_ID.search(reply.text).group(1)
    conversation_id = CONVERSATION.search(reply.text).group(1)
    socket_url = WS_URL.search(reply.text).group(1).replace(f":{cluster.a.port}/", f":{cluster.b.port}/")
    on_b = same_browser(on_a, cluster.b.url)
    return on_a, on_b, turn_id, conversation_id, socket_url


def deltas_until(ws, predicate, timeout: float = 20) -> str:
    """Read frames until the text streamed so far satisfies ``predicate``; returns that text."""
    text = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=timeout))
        text = text + frame["d"] if "d" in frame else re.sub(r"<[^>]+>", "", frame.get("content", ""))
        if predicate(text):
            return text
    raise AssertionError(f"not seen in time; streamed so far: {text!r}")


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def test_a_turn_started_on_a_streams_to_a_socket_on_b_and_a_reload_there(cluster):
    on_a, on_b, turn_id, conversation_id, socket_url = start_turn(cluster, "first")
    with on_b.socket(socket_url, origin=cluster.b.url) as ws:
        deltas_until(ws, lambda text: "n5 " in text)
        page = on_b.get(f"/c/{conversation_id}")  # a reload that lands on B, mid-reply
        assert page.status == 200
        assert f'id="turn-{turn_id}"' in page.text and "hx-ws:connect" in page.text
        assert f"127.0.0.1:{cluster.b.port}/turns/{turn_id}/stream" in page.text
        assert "n3 " in page.text  # what has streamed so far, rendered by B from Redis
        frames = frames_until_close(ws, timeout=30)
    deltas = [f["d"] for f in frames if "d" in f]
    assert len(deltas) >= 10, frames  # token by token through Redis, not one lump at the end
    final = frames[-1]
    assert final.get("swap") == "outerHTML" and f'id="turn-{turn_id}"' in final["content"]
    assert "n40" in final["content"] and "hx-ws:connect" not in final["content"]
    assert (cluster.marks / "started-first-a").exists() and not (cluster.marks / "started-first-b").exists()
    assert "n40" in on_b.get(f"/c/{conversation_id}").text and "n40" in on_a.get(f"/c/{conversation_id}").text


def test_stop_sent_to_b_stops_the_runner_on_a(cluster):
    _, on_b, turn_id, conversation_id, socket_url = start_turn(cluster, "second")
    with on_b.socket(socket_url, origin=cluster.b.url) as ws:
        deltas_until(ws, lambda text: "n4 " in text)
        on_b.get(f"/c/{conversation_id}")  # the page, for its CSRF token
        stop = on_b.request(
            "POST", f"/turns/{turn_id}/stop", {}, {"HX-Request": "true", "X-CSRF-Token": on_b.csrf}
        )
        assert stop.status == 204, stop.text
        frames = frames_until_close(ws, timeout=10)
    assert "Stopped" in frames[-1]["content"]
    closed = cluster.marks / "closed-second"
    wait_for(closed.exists, 5, "the chat function on A was closed")
    words = closed.read_text().split()
    assert 4 <= len(words) < 40, words  # it ended early, at its next step after the stop
    page = on_b.get(f"/c/{conversation_id}").text
    assert "Stopped" in page and "n40" not in page and "hx-ws:connect" not in page


def test_two_instances_never_start_two_replies_in_one_conversation(cluster):
    # Defends against two workers, each with its own lock, both starting a reply at the same instant.
    on_a, on_b, turn_id, conversation_id, _ = start_turn(cluster, "fourth")
    on_b.get(f"/c/{conversation_id}")
    hx = {"HX-Request": "true", "X-CSRF-Token": on_b.csrf}
    on_b.request("POST", f"/turns/{turn_id}/stop", {}, hx)

    def send(barrier: threading.Barrier, replies: dict, client: PageClient, text: str) -> None:
        barrier.wait()
        replies[text] = client.send(text, conversation_id)

    for round_ in range(6):
        barrier, replies = threading.Barrier(2), {}
        tabs = [
            threading.Thread(target=send, args=(barrier, replies, client, f"round {round_} on {name}"))
            for client, name in ((on_a, "a"), (on_b, "b"))
        ]
        for tab in tabs:
            tab.start()
        for tab in tabs:
            tab.join(30)
        # One starts the reply; the other waits for it (its worker saw the reply running) or, when
        # both workers found none and the database refused the second, is told in words.
        started = [r for r in replies.values() if r.status == 200 and TURN_ID.search(r.text)]
        others = [r for r in replies.values() if r not in started]
        assert len(started) == 1 and len(others) == 1, replies
        other = others[0]
        assert (other.status == 200 and "Waiting for the reply" in other.text) or (
            other.status == 409 and "A reply is still being written" in other.text
        ), other
        stop = on_b.request("POST", f"/c/{conversation_id}/stop-all", {}, hx)
        assert stop.status == 200  # the waiting message goes too: the next round starts idle
    page = on_b.get(f"/c/{conversation_id}").text
    assert page.count('class="msg user"') == 7 and "hx-ws:connect" not in page


def test_two_instances_retrying_and_editing_at_once_lose_no_version(cluster):
    # Two tabs on two instances press Retry on the same reply at the same instant, round after
    # round, then both edit the same message: one turn runs at a time, and every reply and
    # message written stays as a version (PostgreSQL orders the writes; Redis carries the stops).
    on_a, on_b, turn_id, conversation_id, _ = start_turn(cluster, "fifth")
    on_a.get(f"/c/{conversation_id}")
    on_b.get(f"/c/{conversation_id}")
    headers = {
        "a": {"HX-Request": "true", "X-CSRF-Token": on_a.csrf},
        "b": {"HX-Request": "true", "X-CSRF-Token": on_b.csrf},
    }
    clients = {"a": on_a, "b": on_b}

    def stop_and_settle(turn: str) -> None:
        on_b.request("POST", f"/turns/{turn}/stop", {}, headers["b"])
        wait_for(lambda: "hx-ws:connect" not in on_b.get(f"/c/{conversation_id}").text, 20, "the reply ended")

    def at_once(path: str, data: dict) -> dict:
        barrier, replies = threading.Barrier(2), {}

        def post(name: str) -> None:
            barrier.wait()
            replies[name] = clients[name].request(
                "POST", path, {**data, "text": data.get("text", "") + name}, headers[name]
            )

        tabs = [threading.Thread(target=post, args=(name,)) for name in clients]
        for tab in tabs:
            tab.start()
        for tab in tabs:
            tab.join(30)
        return replies

    stop_and_settle(turn_id)
    current = turn_id
    for _ in range(4):
        replies = at_once(f"/turns/{current}/retry", {})
        started = [r for r in replies.values() if r.status == 200]
        assert len(started) == 1, replies
        refused = [r for r in replies.values() if r.status != 200]
        assert refused[0].status == 409 and (
            "still being written" in refused[0].text or "not in the conversation as shown" in refused[0].text
        ), refused[0].text
        current = TURN_ID.findall(started[0].text)[-1]
        stop_and_settle(current)
    tree = json.loads(on_a.get(f"/c/{conversation_id}/export?tree=1").text)["tree"]
    question = next(n for n in tree if n["message"]["content"] == "fifth")
    versions = [n for n in tree if n["parent"] == question["id"]]
    assert len(versions) == 5 and sum(n["selected"] for n in versions) == 1
    page = on_b.get(f"/c/{conversation_id}").text
    assert "Show version 4 of 5" in page and page.count('class="msg user"') == 1
    # Both edit the question at once: each edit that was accepted is a version of it.
    ref = re.search(r'/messages/([^/"]+)/edit', page).group(1)
    replies = at_once(f"/messages/{ref}/edit", {"text": "edited on "})
    accepted = [name for name, r in replies.items() if r.status == 200]
    assert accepted and all(r.status in (200, 409) for r in replies.values()), replies
    wait_for(
        lambda: "hx-ws:connect" not in on_b.get(f"/c/{conversation_id}").text, 30, "the edits' replies ended"
    )
    tree = json.loads(on_a.get(f"/c/{conversation_id}/export?tree=1").text)["tree"]
    questions = [n["message"]["content"] for n in tree if n["parent"] == question["parent"]]
    assert sorted(questions) == sorted(["fifth", *(f"edited on {name}" for name in accepted)])
    assert len([n for n in tree if n["parent"] == question["id"]]) == 5  # the retries' versions stay


def test_the_message_rate_limit_counts_across_instances(cluster):
    # Defends against each instance allowing its own 20 messages a minute to one session.
    on_a = PageClient(cluster.a.url)
    on_b = same_browser(on_a, cluster.b.url)
    on_a.get("/new")
    hx = {"HX-Request": "true", "X-CSRF-Token": on_a.csrf}
    for n in range(20):
        client = (on_a, on_b)[n % 2]
        sent = client.request("POST", "/turns", {"text": f"message {n}"}, hx)
        assert sent.status == 200, (n, sent.text)
        stop = client.request("POST", f"/turns/{TURN_ID.search(sent.text).group(1)}/stop", {}, hx)
        assert stop.status == 204
    for client in (on_a, on_b):
        refused = client.request("POST", "/turns", {"text": "one too many"}, hx)
        assert refused.status == 429 and "faster than 20 a minute" in refused.text
        assert int(refused.headers["Retry-After"]) > 0


def test_killing_a_mid_reply_keeps_the_message_and_b_retries_it(cluster):
    _, on_b, turn_id, conversation_id, socket_url = start_turn(cluster, "third")
    with on_b.socket(socket_url, origin=cluster.b.url) as ws:
        deltas_until(ws, lambda text: "n6 " in text)
        cluster.a.kill()
        assert "third" in on_b.get(f"/c/{conversation_id}").text  # the user's message is stored
        frames = frames_until_close(ws, timeout=LEASE_SECONDS * 5 + 10)
    final = frames[-1]["content"]
    assert "This reply was interrupted: the server writing it stopped. Retry it." in final
    assert "n1 n2 n3 n4 n5 n6" in final and "Retry" in final  # what A had written is kept
    page = on_b.get(f"/c/{conversation_id}")
    assert page.text.count('class="msg user"') == 1 and "<p>third</p>" in page.text
    assert "Retry" in page.text and "hx-ws:connect" not in page.text
    retry = on_b.request(
        "POST", f"/turns/{turn_id}/retry", {}, {"HX-Request": "true", "X-CSRF-Token": on_b.csrf}
    )
    assert retry.status == 200, retry.text
    new_socket = WS_URL.search(retry.text).group(1)
    assert f":{cluster.b.port}/" in new_socket
    with on_b.socket(new_socket, origin=cluster.b.url) as ws:
        frames = frames_until_close(ws, timeout=30)
    assert "n40" in frames[-1]["content"] and "interrupted" not in frames[-1]["content"]
    assert (cluster.marks / "started-third-b").exists()
    page = on_b.get(f"/c/{conversation_id}").text
    assert page.count('class="msg user"') == 1 and "<p>third</p>" in page and "n40" in page


def test_webchat_production_with_two_workers_sharing_redis(postgres, redis_server, tmp_path):
    """The real command: sockets land on either worker, and every reply streams to the end."""
    port = free_port()
    env = {
        **os.environ,
        "WEBCHAT_DATABASE_URL": postgres.new_database(),
        "WEBCHAT_REDIS_URL": redis_server.url,
        "WEBCHAT_DATA_DIR": str(tmp_path / "data"),
    }
    command = [sys.executable, "-m", "webchat.cli", "--production", "--backend", "echo", "--workers", "2"]
    log = tmp_path / "webchat.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Instance("production", port, process, log)
    try:
        wait_for_port(port, timeout=60, process=process)
        page = PageClient(server.url)
        for i in range(6):
            reply = page.send(f"message number {i} with a few more words")
            assert reply.status == 200, reply.text
            with page.socket(WS_URL.search(reply.text).group(1)) as ws:
                frames = frames_until_close(ws, timeout=20)
            assert "You said: message number" in frames[-1]["content"], (frames, log.read_text()[-2000:])
            assert frames[-1].get("swap") == "outerHTML"
    finally:
        server.stop()
