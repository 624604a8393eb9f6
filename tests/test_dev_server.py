"""The development server's time limits: Werkzeug's own has none, so one client trickling bytes
(or silent) would keep a thread for as long as it liked. The limits are lowered to 1 s here; the
bounds the test waits with are 15x that, so a busy machine does not fail it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import settings_for
from werkzeug.serving import make_server

from webchat import server as dev_server
from webchat.app import create_app

LIMIT = 1.0
BOUND = 15.0


def answer(message, history):
    return "ok"


@pytest.fixture
def port(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(dev_server, "HEADER_SECONDS", LIMIT)
    monkeypatch.setattr(dev_server._Handler, "timeout", LIMIT)
    app = create_app(settings_for(tmp_path), answer)
    http = make_server("127.0.0.1", 0, app, threaded=True, request_handler=dev_server._Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield http.server_port
    http.shutdown()


def closed_by_server(conn: socket.socket, trickle: bytes = b"") -> float:
    """Seconds until the server ends the connection, sending ``trickle`` a byte at a time."""
    started = time.monotonic()
    conn.settimeout(0.2)
    sent = 0
    while time.monotonic() - started < BOUND:
        if sent < len(trickle):
            try:
                conn.sendall(trickle[sent : sent + 1])
            except OSError:
                return time.monotonic() - started
            sent += 1
        try:
            if conn.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    raise AssertionError(f"still open after {BOUND} s")


def test_a_silent_client_is_dropped(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        closed_by_server(conn)


def test_a_client_trickling_its_headers_is_dropped(port: int) -> None:
    headers = b"GET /new HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 500 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as conn:
        closed_by_server(conn, headers)  # a byte every 0.2 s: never idle, never done


def test_a_body_slower_than_the_header_limit_is_still_read(port: int) -> None:
    """Only the headers are timed as a whole: an upload on a slow link may take its time."""
    body = b"text=hello"
    head = (
        "POST /turns HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as conn:
        conn.sendall(head)
        for byte in body:  # 10 bytes 0.3 s apart: 3 s in all, never 1 s silent
            conn.sendall(bytes([byte]))
            time.sleep(0.3)
        answer_head = conn.recv(4096)
    assert answer_head.startswith(b"HTTP/1.1 ")  # an answer (a 400: no CSRF token), not a drop
