"""A model server whose stream is broken must not pass for a whole reply: a stream that ends
before its finish reason, a 200 answer that is an HTML page, a line that is not JSON, and an
error event each end the reply as an error with Retry, in words that say so (the text that came
is kept). Against a real HTTP server on 127.0.0.1 that misbehaves on demand."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import csrf_of, settings_for

from webchat.app import create_app


def chunk(content: str, finish: str | None = None) -> bytes:
    data = {
        "id": "1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


class Misbehaving(BaseHTTPRequestHandler):
    """Answers as the user's message asks: "whole", "cut", "html", "garbage" or "error"."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        mode = body["messages"][-1]["content"]
        self.send_response(200)
        if mode == "html":
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>")
            return
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(chunk("Part one, "))
        if mode == "whole":
            self.wfile.write(chunk("and the end.", "stop") + b"data: [DONE]\n\n")
        elif mode == "garbage":
            self.wfile.write(b"data: {not json\n\n")
        elif mode == "error":
            error = {"error": {"message": "the model ran out of memory", "type": "server_error"}}
            self.wfile.write(f"data: {json.dumps(error)}\n\n".encode())
        # "cut": the body just ends, no finish reason, no [DONE]

    def log_message(self, *args):
        pass


@pytest.fixture
def app(tmp_path) -> Iterator:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}/v1"
    yield create_app(settings_for(tmp_path, backend="inference", base_url=base_url))
    server.shutdown()


def reply_to(app, text: str):
    client = app.test_client()
    token = csrf_of(client)
    sent = client.post("/turns", data={"text": text}, headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert sent.status_code == 200
    services = app.extensions["webchat"]
    conversation_id = sent.headers["HX-Push-Url"].rsplit("/", 1)[1]
    turn = services.store.last_turn(conversation_id)
    assert services.hub.wait_final(turn.id, 60) is not None
    [reply] = services.store.turn_messages(turn.id, "reply")
    return reply, client.get(f"/c/{conversation_id}").get_data(as_text=True)


def test_a_whole_stream_is_a_complete_reply(app):
    reply, _ = reply_to(app, "whole")
    assert reply.status == "complete" and reply.message.content == "Part one, and the end."


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("cut", "ended its stream early, before the reply was complete"),
        ("garbage", "sent something that is not a valid chat-completions stream"),
        ("error", "sent an error in the middle of its stream: the model ran out of memory"),
    ],
)
def test_a_broken_stream_ends_as_an_error_keeping_what_came(app, mode, says):
    reply, page = reply_to(app, mode)
    assert reply.status == "error" and reply.message.content == "Part one, "
    assert says in reply.error and "Retry" in reply.error
    assert "The model server (http://127.0.0.1" in reply.error
    assert "JSONDecodeError" not in page and "UnknownError" not in page and says in page


def test_an_html_page_is_not_taken_for_a_reply(app):
    reply, _ = reply_to(app, "html")
    assert reply.status == "error" and reply.message.content == ""
    assert "answered with something that is not a stream of chat completions" in reply.error
