"""The benchmark's server: webchat with a fake model, for gunicorn's gevent worker::

    gunicorn -k gevent -w 1 --no-control-socket bench.fake_app:app

The model costs nothing, so the numbers are webchat's own: it yields 200 tokens of 4 characters
every 20 ms (a reply of 3.98 s). Token ``i`` is ``f"{i:03d} "``, so a client can tell exactly which
tokens a frame carried and when each one arrived. ``BENCH_TOKENS`` and ``BENCH_TOKEN_SECONDS``
change the shape. ``BENCH_MODEL=async`` makes the fake model an async generator (awaiting
``asyncio.sleep``), as Gradio's demos and async model clients are. Settings (data folder...) come
from ``WEBCHAT_*`` as for ``webchat.wsgi``.
"""

from gevent import monkey

monkey.patch_all()

import asyncio  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from webchat.app import create_app  # noqa: E402
from webchat.settings import Settings  # noqa: E402

TOKENS = int(os.environ.get("BENCH_TOKENS", "200"))
TOKEN_SECONDS = float(os.environ.get("BENCH_TOKEN_SECONDS", "0.02"))


def fake_model(message: Any, history: list[dict[str, Any]]) -> Iterator[str]:
    """Yields the reply so far, one 4-character token every TOKEN_SECONDS, like a model server:
    on a fixed schedule, since a model generates while webchat forwards the previous token."""
    text = ""
    start = time.monotonic()
    for i in range(TOKENS):
        wait = start + i * TOKEN_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        text += f"{i % 1000:03d} "
        yield text


async def fake_async_model(message: Any, history: list[dict[str, Any]]) -> AsyncIterator[str]:
    """The same schedule as ``fake_model``, as an async generator."""
    text = ""
    start = time.monotonic()
    for i in range(TOKENS):
        wait = start + i * TOKEN_SECONDS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        text += f"{i % 1000:03d} "
        yield text


MODEL = fake_async_model if os.environ.get("BENCH_MODEL") == "async" else fake_model
app = create_app(Settings.load(), MODEL)
