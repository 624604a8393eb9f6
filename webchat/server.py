"""Serving the app in one process: Werkzeug's threaded server, for one user or a few, with time
limits on clients (Werkzeug sets none).

Production runs gunicorn with the gevent worker instead (see the README's deployment section).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from typing import IO, Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

log = logging.getLogger("webchat")

# A client silent this long (between any two reads or writes) is dropped: an idle keep-alive
# connection, or one that stopped mid-request, must not hold a thread forever.
IDLE_SECONDS = 30.0
# A request line and headers must arrive within this, however the bytes trickle in (one byte
# every 29 s would never be idle for 30 s). The body is not timed: a large upload on a slow link
# may take minutes, and the socket's idle timeout still applies to it.
HEADER_SECONDS = 30.0


class _HeaderDeadline:
    """The request's input stream, with a deadline while the request line and headers are read."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._deadline: float | None = None

    def start(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds

    def stop(self) -> None:
        self._deadline = None

    def readline(self, limit: int = -1) -> bytes:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise TimeoutError("the request's headers took too long")
        return self._stream.readline(limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler with the time limits above (it has none: a trickling client would keep
    its thread for as long as it likes)."""

    timeout = IDLE_SECONDS
    rfile: Any

    def setup(self) -> None:
        super().setup()
        self.rfile = _HeaderDeadline(self.rfile)

    def handle_one_request(self) -> None:
        self.rfile.start(HEADER_SECONDS)
        try:
            super().handle_one_request()
        except TimeoutError:
            self.close_connection = True  # (a socket timeout is a TimeoutError too)

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # the headers are read by now
        self.rfile.stop()
        return parsed


def serve(app: Flask, host: str, port: int) -> None:
    """Bind, print the URL a person can open, and serve until interrupted."""
    server = make_server(host, port, app, threaded=True, request_handler=_Handler)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (systemd, docker stop) ends the server as Ctrl+C does, so the process exits
        # normally and stores the replies it is writing (webchat.turns.TurnRunner.shutdown).
        signal.signal(signal.SIGTERM, _interrupt)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    print(
        f"webchat is running at http://{shown}:{server.server_port}/  (Ctrl+C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
