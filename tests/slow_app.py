"""A webchat whose chat function writes slowly, for tests/test_faults.py to kill or signal mid-reply:
word ``w<i>`` every ``SLOW_DELAY`` seconds, ``SLOW_WORDS`` of them.

    python tests/slow_app.py PORT        # the development server (webchat.server.serve)
    gunicorn ... slow_app:app            # with SLOW_GEVENT=1: gevent's patch first
"""

import os

if os.environ.get("SLOW_GEVENT"):
    from gevent import monkey

    monkey.patch_all()

import sys
import time
from typing import Any

from webchat.app import create_app
from webchat.settings import Settings

WORDS = int(os.environ.get("SLOW_WORDS", "400"))
DELAY = float(os.environ.get("SLOW_DELAY", "0.05"))


def slow(message: Any, history: list[dict[str, Any]]):
    text = ""
    for i in range(1, WORDS + 1):
        text += f"w{i} "
        yield text
        time.sleep(DELAY)


app = create_app(Settings.load({}), slow)

if __name__ == "__main__":
    from webchat.server import serve

    serve(app, "127.0.0.1", int(sys.argv[1]))
