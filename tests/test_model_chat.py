"""The whole app against the real llama.cpp server with SmolLM2: replies stream, failures read well."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import settings_for
from webclient import TURN_ID, WS_URL, PageClient, frames_until_close
from werkzeug.serving import make_server

from webchat.app import create_app
from webchat.backends.local import LlamaServer

pytestmark = pytest.mark.model


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def chat_once(base_url: str, text: str) -> list[dict]:
    page = PageClient(base_url)
    reply = page.send(text)
    assert reply.status == 200, reply.text
    with page.socket(WS_URL.search(reply.text).group(1)) as ws:
        return frames_until_close(ws, timeout=60)


def test_the_default_local_model_streams_a_real_reply(tmp_path: Path, default_gguf: Path):
    settings = settings_for(tmp_path, backend="local", gguf=default_gguf, max_tokens=48, temperature=0.0)
    app = create_app(settings)
    server, url = serve(app)
    try:
        frames = chat_once(url, "Name three colors.")
        deltas = [f["d"] for f in frames if "d" in f]
        final = frames[-1]
        assert final["swap"] == "outerHTML"
        assert 'class="msg assistant"' in final["content"]
        assert "error-bubble" not in final["content"]
        assert len(deltas) >= 2 or len(frames) >= 3  # it streamed in pieces
    finally:
        server.shutdown()
        app.extensions["webchat"].backend.process.stop()


def test_a_model_server_that_is_down_gives_a_readable_error(tmp_path: Path):
    settings = settings_for(tmp_path, backend="inference", base_url="http://127.0.0.1:9/v1")
    app = create_app(settings)
    server, url = serve(app)
    try:
        final = chat_once(url, "hello?")[-1]["content"]
        assert "error-bubble" in final
        assert "cannot be reached" in final and "http://127.0.0.1:9/v1" in final
        assert "Traceback" not in final and "httpx" not in final
        assert "Retry" in final
    finally:
        server.shutdown()


def test_a_refused_request_says_what_the_server_said(tmp_path: Path, default_gguf: Path):
    with LlamaServer(default_gguf, ctx=256, parallel=1) as llama:
        settings = settings_for(tmp_path, backend="inference", base_url=llama.base_url, max_tokens=16)
        app = create_app(settings)
        server, url = serve(app)
        try:
            final = chat_once(url, "word " * 2000)[-1]["content"]
        finally:
            server.shutdown()
    assert "refused the request (400)" in final
    assert "context" in final  # llama.cpp's own explanation: the prompt exceeds the context


def test_a_model_server_dying_mid_reply_keeps_the_partial_text(tmp_path: Path, default_gguf: Path):
    llama = LlamaServer(default_gguf, parallel=1)
    llama.start()
    settings = settings_for(
        tmp_path, backend="inference", base_url=llama.base_url, max_tokens=2000, temperature=0.0
    )
    app = create_app(settings)
    server, url = serve(app)
    try:
        page = PageClient(url)
        reply = page.send("Count from 1 to 1000, one number per line.")
        turn_id = TURN_ID.search(reply.text).group(1)
        with page.socket(WS_URL.search(reply.text).group(1)) as ws:
            ws.recv(timeout=30)
            ws.recv(timeout=30)
            llama.stop()
            final = frames_until_close(ws, timeout=30)[-1]["content"]
    finally:
        llama.stop()
        server.shutdown()
    assert "error-bubble" in final
    assert "closed the connection before the reply was complete" in final
    stored = app.extensions["webchat"].store.turn_messages(turn_id, "reply")
    assert stored and stored[0].status == "error"
    assert stored[0].message.content.strip()  # the partial reply was kept
