"""A small OpenAI-compatible model server for tests, on 127.0.0.1: it records every request it
receives (body and headers), answers ``GET /v1/models`` and streamed ``POST /v1/chat/completions``,
and fails on demand (an HTTP error, or no answer at all once stopped).

Its reply names it and the model asked for ("[name] model=… you said: …"), so a test sees which
server answered. ``script`` replaces that with a list of steps per request: text to stream, or a
tool call to ask for (``{"tool": name, "arguments": {...}}``), for tests of tool use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeModelServer:
    name: str = "fake"
    models: tuple[str, ...] = ("fake-model",)
    requests: list[Received] = field(default_factory=list)
    fail_status: int | None = None  # answer every chat request with this HTTP status
    script: Callable[[dict[str, Any]], list[Any]] | None = None
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def start(self) -> FakeModelServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = {"object": "list", "data": [{"id": m, "object": "model"} for m in owner.models]}
                    self._json(200, data)
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}  # names as sent vary in case
                owner.requests.append(Received(self.path, headers, body))
                if owner.fail_status:
                    self._json(owner.fail_status, {"error": {"message": f"{owner.name} failed on demand"}})
                    return
                steps = owner.script(body) if owner.script else [owner.answer(body)]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for step in steps:
                    self.wfile.write(_event(_chunk(step)))
                finish = "tool_calls" if steps and isinstance(steps[-1], dict) else "stop"
                n = len(steps)
                usage = {"prompt_tokens": 11, "completion_tokens": n, "total_tokens": 11 + n}
                self.wfile.write(_event({**_chunk(None, finish), "usage": usage}))
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

            def _json(self, status: int, data: Any) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def answer(self, body: dict[str, Any]) -> str:
        said = body["messages"][-1]["content"]
        if isinstance(said, list):
            said = " ".join(p.get("text", "") for p in said if isinstance(p, dict))
        return f"[{self.name}] model={body.get('model')} you said: {said}"

    def stop(self) -> None:
        """Stop answering (connections are refused from now on, as a server that is down)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _chunk(step: Any, finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if isinstance(step, str):
        delta = {"role": "assistant", "content": step}
    elif isinstance(step, dict):
        delta = {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 0,
                    "id": step.get("id", "call-1"),
                    "type": "function",
                    "function": {
                        "name": step["tool"],
                        # "raw": arguments as a model might send them, valid JSON or not
                        "arguments": step["raw"] if "raw" in step else json.dumps(step.get("arguments", {})),
                    },
                }
            ],
        }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _event(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()
