"""A model's reasoning streams into a thought block above its answer."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from huggingface_hub import InferenceClient

from webchat.backends.inference import InferenceChat
from webchat.backends.thinking import ReplyBuilder, split_think


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (None, "", False)),
        ("Hello", (None, "Hello", True)),
        ("<thi", ("", "", False)),
        ("<think>weighing", ("weighing", "", False)),
        ("<think> a </think> answer", ("a", "answer", True)),
        ("  <think>x</think>", ("x", "", True)),
        ("a <think> in the middle", (None, "a <think> in the middle", True)),
    ],
)
def test_split_think(text, expected):
    assert split_think(text) == expected


def shape(reply):
    if isinstance(reply, str):
        return reply
    return [(m.content, m.metadata.get("status")) for m in reply]


def test_inline_think_tags_become_a_thought_then_the_answer():
    builder = ReplyBuilder()
    steps = []
    for piece in ["<think>", "Let me ", "see.", "</think>", "The answer", " is 4."]:
        builder.add(piece)
        steps.append(shape(builder.reply()))
    assert steps == [
        "",
        [("Let me", "pending")],
        [("Let me see.", "pending")],
        [("Let me see.", "done")],
        [("Let me see.", "done"), ("The answer", None)],
        [("Let me see.", "done"), ("The answer is 4.", None)],
    ]
    final = builder.reply()
    assert final[0].metadata["title"] == "Thinking" and final[0].metadata["duration"] >= 0


def test_reasoning_content_field_becomes_a_thought():
    builder = ReplyBuilder()
    builder.add(reasoning="Two plus two")
    assert shape(builder.reply()) == [("Two plus two", "pending")]
    builder.add(content="4")
    assert shape(builder.reply()) == [("Two plus two", "done"), ("4", None)]


class FakeReasoningServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that streams reasoning_content first, as reasoning models do."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        deltas = [{"reasoning_content": "Thinking hard."}, {"content": "Done"}, {"content": "."}]
        for index, delta in enumerate(deltas):
            last = index == len(deltas) - 1  # the last chunk says why it ended, as real servers do
            chunk = {
                "id": "1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if last else None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


def test_inference_chat_streams_reasoning_into_a_thought_block():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeReasoningServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = InferenceClient(base_url=f"http://127.0.0.1:{server.server_port}/v1")
        replies = [shape(r) for r in InferenceChat(client)("hi", [])]
    finally:
        server.shutdown()
    assert replies == [
        [("Thinking hard.", "pending")],
        [("Thinking hard.", "done"), ("Done", None)],
        [("Thinking hard.", "done"), ("Done.", None)],
    ]


def test_a_thought_shows_as_gradio_shows_it(make_app):
    """Markdown in the title (safely), open until its status is "done", its log beside the title."""
    from conftest import TURN_ID, csrf_of

    import webchat as gr

    def answer(message, history):
        return [
            gr.ChatMessage(
                content="step one", metadata={"title": "_Thinking_ about `x`", "log": "2 sources"}
            ),
            gr.ChatMessage(
                content="more", metadata={"title": "**Done** <img src=x onerror=alert(1)>", "status": "done"}
            ),
            gr.ChatMessage(content="The answer."),
        ]

    app = make_app(answer)
    client = app.test_client()
    sent = client.post(
        "/turns", data={"text": "q"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(client)}
    )
    app.extensions["webchat"].hub.wait_final(TURN_ID.search(sent.get_data(as_text=True)).group(1), 10)
    page = client.get(sent.headers["HX-Push-Url"]).get_data(as_text=True)
    first, second = page.split('<details class="thought"')[1:3]
    assert first.startswith(" open>")  # no status: open, as in Gradio
    assert '<span class="thought-title"><em>Thinking</em> about <code>x</code></span>' in first
    assert '<span class="thought-log">2 sources</span></summary>' in first
    assert second.startswith(">")  # done: collapsed
    assert "<strong>Done</strong> &lt;img src=x onerror=alert(1)&gt;" in second and "<img" not in second
