"""Nothing a reader saw is lost: the real server is signalled or killed mid-reply (the development
server and gunicorn with the gevent worker), and the store and the page are checked afterwards.
Every wait is on a condition (what the socket or the store shows), with generous bounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import free_port, wait_for_http, wait_for_port
from webclient import TURN_ID, WS_URL, PageClient, frames_until_close

from webchat.store import Store, sqlite_url

TESTS = Path(__file__).resolve().parent
CONVERSATION = "HX-Push-Url"


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


class Server:
    """webchat with tests/slow_app.py's chat function, in a process of its own."""

    def __init__(self, data_dir: Path, *, gunicorn: bool = False, words: int = 400, graceful: int = 30):
        self.data_dir, self.port = data_dir, free_port()
        env = {
            **os.environ,
            "WEBCHAT_DATA_DIR": str(data_dir),
            "WEBCHAT_SECRET_KEY": "one key for every process",
            "SLOW_WORDS": str(words),
            "SLOW_GEVENT": "1" if gunicorn else "",
        }
        if gunicorn:
            command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--no-control-socket"]
            command += ["--graceful-timeout", str(graceful), "-b", f"127.0.0.1:{self.port}"]
            command += ["--pythonpath", str(TESTS), "slow_app:app"]
        else:
            command = [sys.executable, str(TESTS / "slow_app.py"), str(self.port)]
        self.log = open(data_dir.parent / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=60, process=self.process)
        wait_for_http(f"{self.url}/new", timeout=120, process=self.process)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store(self) -> Store:
        return Store(sqlite_url(self.data_dir / "webchat.sqlite3"))

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.log.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(**options) -> Server:
        started.append(Server(tmp_path / "data", **options))
        return started[-1]

    yield start
    for server in started:
        server.end()


def streaming(server: Server) -> tuple[PageClient, str, str, object]:
    """A message sent; its page client, turn, conversation path, and the open reply socket."""
    page = PageClient(server.url)
    sent = page.send("write slowly")
    assert sent.status == 200, sent.text
    return (
        page,
        TURN_ID.search(sent.text).group(1),
        sent.headers[CONVERSATION],
        page.socket(WS_URL.search(sent.text).group(1)),
    )


def read_until(ws, word: str) -> str:
    """The reply's text as the page shows it, once it holds ``word``."""
    text = ""
    while word not in text:
        frame = json.loads(ws.recv(timeout=60))
        text = text + frame["d"] if "d" in frame else _plain(frame.get("content", ""))
    return text


def _plain(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html).strip() + " "


def reply_of(store: Store, turn_id: str) -> tuple[str, str]:
    turn = store.get_turn(turn_id)
    replies = store.turn_messages(turn_id, "reply")
    return turn.status, "".join(m.message.content for m in replies if isinstance(m.message.content, str))


def test_sigterm_of_the_development_server_stores_the_reply_as_stopped(servers):
    server = servers()
    _, turn_id, _, socket = streaming(server)
    with socket as ws:
        seen = read_until(ws, "w20 ")
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(60)
    status, text = reply_of(server.store(), turn_id)
    assert status == "stopped"
    assert text.startswith(seen.strip()), (seen, text)


def test_sigkill_keeps_the_last_checkpoint_and_the_restarted_server_shows_it(servers):
    first = servers()
    page, turn_id, path, socket = streaming(first)
    store = first.store()
    with socket as ws:
        read_until(ws, "w30 ")
        wait_for(lambda: "w20 " in "".join(m.content for m in store.checkpointed(turn_id)), "a checkpoint")
        saved = "".join(m.content for m in store.checkpointed(turn_id))
        first.process.kill()  # SIGKILL: nothing runs on the way out
        first.process.wait(30)
    second = servers()
    again = PageClient(second.url)
    again.jar, again.opener = page.jar, page.opener  # the same browser, reloading the page
    html = again.get(path).text
    status, text = reply_of(second.store(), turn_id)
    assert status == "interrupted" and text.startswith(saved.strip()), (saved, text)
    assert saved.split()[-1] in html and "restarted while this reply was being written" in html
    assert "hx-ws:connect" not in html  # not left running


def test_a_gunicorn_reload_lets_the_draining_worker_store_its_reply_whole(servers):
    server = servers(gunicorn=True, words=80)  # a 4 s reply
    page, turn_id, path, socket = streaming(server)
    with socket as ws:
        read_until(ws, "w5 ")
        os.kill(server.process.pid, signal.SIGHUP)  # a reload: a new worker starts, this one drains
        frames = frames_until_close(ws, timeout=60)
    assert "w80" in frames[-1]["content"] and "interrupted" not in frames[-1]["content"]
    status, text = reply_of(server.store(), turn_id)
    assert status == "done" and text.endswith("w80 "), text
    html = page.get(path).text  # served by the new worker
    assert "w80" in html and "restarted while" not in html and "interrupted" not in html


def test_sigterm_of_gunicorn_stores_the_reply_as_stopped_before_the_worker_is_killed(servers):
    server = servers(gunicorn=True, words=2000, graceful=4)  # a reply far longer than the drain
    _, turn_id, _, socket = streaming(server)
    with socket as ws:
        read_until(ws, "w10 ")
        server.process.send_signal(signal.SIGTERM)
        frames = frames_until_close(ws, timeout=60)  # the page gets the stopped reply
    server.process.wait(60)
    status, text = reply_of(server.store(), turn_id)
    assert status == "stopped" and "w10 " in text
    assert "Stopped" in frames[-1]["content"] and text.split()[-1] in frames[-1]["content"]
