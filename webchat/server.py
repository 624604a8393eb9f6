"""Serving the app in one process: Werkzeug's threaded server, for one user or a few.

Production runs gunicorn with the gevent worker instead (see the README's deployment section).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from flask import Flask
from werkzeug.serving import make_server

log = logging.getLogger("webchat")


def serve(app: Flask, host: str, port: int) -> None:
    """Bind, print the URL a person can open, and serve until interrupted."""
    server = make_server(host, port, app, threaded=True)
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
