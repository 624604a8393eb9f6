"""The app tests/test_async_production.py runs under gunicorn with the gevent worker: a Gradio
ChatInterface whose chat function is an async generator, as Gradio's own demos and most model
clients (AsyncInferenceClient, openai.AsyncOpenAI) are, and a stop that is gated on an event."""

from gevent import monkey

monkey.patch_all()

import asyncio  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import webchat as gr  # noqa: E402
from webchat.settings import Settings  # noqa: E402

WORDS = int(os.environ.get("ASYNC_WORDS", "20"))
MARKS = Path(os.environ["ASYNC_MARKS"])


async def respond(message: str, history: list[dict[str, Any]]):
    if message == "wait":  # streams one word, then waits for a file the test never writes: a Stop ends it
        yield "waiting "
        try:
            while True:
                await asyncio.sleep(0.05)
        finally:
            (MARKS / "closed-wait").write_text("closed")
    text = ""
    for i in range(1, WORDS + 1):
        await asyncio.sleep(0.02)
        text += f"a{i} "
        yield text


async def answer(message: str, history: list[dict[str, Any]]) -> str:
    await asyncio.sleep(0.05)
    return f"answered {message}"


chat = gr.ChatInterface(answer if os.environ.get("ASYNC_KIND") == "coroutine" else respond)
app = chat.app(Settings.load({}))
