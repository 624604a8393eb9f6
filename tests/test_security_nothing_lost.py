"""Nothing is lost: two tabs sending at once, a reload or restart mid-reply. Every user message is
stored exactly once, in order, and every reply ends complete, stopped, or as an error with retry."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from conftest import TURN_ID, csrf_of, settings_for
from webclient import PageClient

from webchat.app import create_app

HX = {"HX-Request": "true"}


def test_two_tabs_sending_at_once(make_app):
    # Defends against lost or doubled messages when two tabs post to one conversation together.
    release = threading.Event()

    def slow(message, history):
        yield f"answer to {message}"
        release.wait(10)

    app = make_app(slow)
    client = app.test_client()
    token = csrf_of(client)
    first = client.post("/turns", data={"text": "opening"}, headers={**HX, "X-CSRF-Token": token})
    conversation_id = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
    release.set()
    app.extensions["webchat"].hub.wait_final(TURN_ID.search(first.get_data(as_text=True)).group(1), 5)
    release.clear()
    barrier = threading.Barrier(2)
    results: dict[str, tuple[int, str]] = {}

    def tab(text):
        tab_client = app.test_client()
        with client.session_transaction() as source, tab_client.session_transaction() as target:
            target.update(source)  # the same browser session, in another tab
        barrier.wait()
        response = tab_client.post(
            "/turns",
            data={"text": text, "conversation_id": conversation_id},
            headers={**HX, "X-CSRF-Token": token},
        )
        results[text] = (response.status_code, response.get_data(as_text=True))

    threads = [threading.Thread(target=tab, args=(t,)) for t in ("tab one", "tab two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # One starts the reply, the other waits for it (one reply at a time); neither is lost.
    assert sorted(code for code, _ in results.values()) == [200, 200]
    waited = next(text for text, (_, body) in results.items() if "Waiting for the reply" in body)
    accepted = next(text for text in results if text != waited)
    release.set()
    store = app.extensions["webchat"].store
    deadline = time.monotonic() + 60

    def users() -> list[str]:
        return [m.message.content for m in store.messages(conversation_id) if m.message.role == "user"]

    while len(users()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert users() == ["opening", accepted, waited]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_restart_mid_reply_leaves_a_retryable_reply(tmp_path: Path):
    # Defends against a reply stuck "running" forever (and a lost message) after the server died.
    settings = settings_for(tmp_path)
    port = free_port()
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from webchat.app import create_app
        from webchat.server import serve
        from webchat.settings import Settings
        def forever(message, history):
            yield "partial"
            time.sleep(600)
        data_dir = Path({str(settings.data_dir)!r})
        settings = Settings(data_dir=data_dir, backend="echo", secret_key="test-secret")
        serve(create_app(settings, forever), "127.0.0.1", {port})
    """)
    server = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        assert "running at" in server.stderr.readline()
        page = PageClient(f"http://127.0.0.1:{port}")
        reply = page.send("do not lose me")
        assert reply.status == 200
        time.sleep(0.3)
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(5)
    app = create_app(settings, lambda message, history: "answered after the restart")
    client = app.test_client()
    client.set_cookie("webchat_session", next(c.value for c in page.jar if c.name == "webchat_session"))
    url = reply.headers["HX-Push-Url"]
    html = client.get(url).get_data(as_text=True)
    assert html.count('class="msg user"') == 1 and "<p>do not lose me</p>" in html
    assert "restarted while this reply was being written" in html
    assert "hx-ws:connect" not in html  # not left "running"
    turn_id = TURN_ID.search(reply.text).group(1)
    token = csrf_of(client)
    retry = client.post(f"/turns/{turn_id}/retry", headers={**HX, "X-CSRF-Token": token})
    assert retry.status_code == 200
    app.extensions["webchat"].hub.wait_final(TURN_ID.findall(retry.get_data(as_text=True))[-1], 5)
    html = client.get(url).get_data(as_text=True)
    assert "answered after the restart" in html and html.count('class="msg user"') == 1
