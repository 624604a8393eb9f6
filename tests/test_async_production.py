"""Async chat functions under ``webchat --production``'s server: gunicorn with the gevent worker,
where every reply is a greenlet of one OS thread. Many overlapping async replies must all
complete (one asyncio loop per process, webchat/aio.py), and Stop must end one."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import free_port, wait_for_http, wait_for_port
from webclient import TURN_ID, WS_URL, PageClient, frames_until_close

pytestmark = pytest.mark.services

TESTS = Path(__file__).resolve().parent
REPLIES = 20


@pytest.fixture
def gunicorn(tmp_path):
    started = []

    def start(kind: str = "generator") -> str:
        port = free_port()
        env = {
            **os.environ,
            "WEBCHAT_DATA_DIR": str(tmp_path / f"data-{kind}"),
            "WEBCHAT_MESSAGES_PER_MINUTE": "1000",
            "WEBCHAT_MAX_RUNNING_TURNS": "100",
            # every session here comes from 127.0.0.1: the per-address limits too
            "WEBCHAT_CLIENT_MESSAGES_PER_MINUTE": "1000",
            "WEBCHAT_CLIENT_MAX_RUNNING_TURNS": "100",
            "ASYNC_KIND": kind,
            "ASYNC_MARKS": str(tmp_path),
        }
        command = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--no-control-socket"]
        command += ["--graceful-timeout", "3", "-b", f"127.0.0.1:{port}", "--pythonpath", str(TESTS)]
        log = open(tmp_path / f"gunicorn-{kind}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [*command, "async_app:app"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append((process, log))
        wait_for_port(port, timeout=60, process=process)
        wait_for_http(f"http://127.0.0.1:{port}/new", timeout=120, process=process)
        return f"http://127.0.0.1:{port}"

    yield start
    for process, log in started:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def one_reply(url: str, text: str) -> str:
    """Send ``text`` in a session of its own and read the reply's socket to its final frame."""
    page = PageClient(url)
    sent = page.send(text)
    assert sent.status == 200, sent.text
    with page.socket(WS_URL.search(sent.text).group(1)) as ws:
        frames = frames_until_close(ws, timeout=60)
    return frames[-1]["content"]


def overlapping(url: str, texts: list[str]) -> list[str]:
    with concurrent.futures.ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(lambda text: one_reply(url, text), texts))


def test_twenty_overlapping_async_generator_replies_all_complete(gunicorn):
    url = gunicorn("generator")
    finals = overlapping(url, [f"hello {i}" for i in range(REPLIES)])
    for final in finals:
        assert "a20" in final, final  # every word of every reply
        assert "failed" not in final and "interrupted" not in final


def test_twenty_overlapping_async_coroutine_replies_all_complete(gunicorn):
    url = gunicorn("coroutine")
    finals = overlapping(url, [f"q{i}" for i in range(REPLIES)])
    assert all(f"answered q{i}" in final for i, final in enumerate(finals)), finals


def test_stop_ends_an_async_reply_and_closes_its_generator(gunicorn, tmp_path):
    url = gunicorn("generator")
    page = PageClient(url)
    sent = page.send("wait")
    turn_id = TURN_ID.search(sent.text).group(1)
    with page.socket(WS_URL.search(sent.text).group(1)) as ws:
        first = json.loads(ws.recv(timeout=60))
        assert "waiting" in json.dumps(first)
        stop = page.request(
            "POST", f"/turns/{turn_id}/stop", {}, {"HX-Request": "true", "X-CSRF-Token": page.csrf}
        )
        assert stop.status == 204
        frames = frames_until_close(ws, timeout=60)
    assert "Stopped" in frames[-1]["content"] and "waiting" in frames[-1]["content"]
    deadline = time.monotonic() + 60
    while not (tmp_path / "closed-wait").exists():
        assert time.monotonic() < deadline, "the async generator was never closed"
        time.sleep(0.05)
