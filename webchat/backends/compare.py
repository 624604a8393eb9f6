"""Compare: one message answered by two or three models at once, side by side.

:func:`compare` streams each model's answer in its own thread and yields, whenever any of them has
more, one assistant message per model, titled with the model's name (``metadata.id``
``compare-<n>``; ``status`` "pending" until that model is done, then none, so the page shows each
answer open, in columns). Stopping the reply stops every model. A model that fails shows its error
in its own column; the others go on.

The stored reply is one turn with one message per model until the reader keeps one
(``Store.keep_compared``): then each answer becomes a version of the reply, the kept one shown.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from webchat.chat import stream_reply
from webchat.errors import describe
from webchat.messages import ChatMessage

COMPARE_PREFIX = "compare-"
MAX_COMPARED = 3

Answer = Callable[[Any, list[dict[str, Any]]], Any]


def is_compared(message: ChatMessage) -> bool:
    """Is this one model's answer in a comparison (not yet kept)?"""
    return str(message.metadata.get("id") or "").startswith(COMPARE_PREFIX)


def compare(
    models: Sequence[tuple[str, Answer, str]], message: Any, history: list[dict[str, Any]]
) -> Iterator[list[ChatMessage]]:
    """``models``: (name, chat function, server name for errors) of each model compared."""
    texts = ["" for _ in models]
    errors: list[str | None] = [None for _ in models]
    done = [False for _ in models]
    changed: queue.Queue[int] = queue.Queue()
    stop = threading.Event()

    def run(index: int, fn: Answer, server: str) -> None:
        replies = stream_reply(fn, message, history)
        try:
            for reply in replies:
                if stop.is_set():
                    return
                said = [m.content for m in reply if isinstance(m.content, str) and m.content]
                texts[index] = "\n\n".join(said)
                changed.put(index)
        except Exception as error:  # one model's failure is its column's, not the comparison's
            errors[index] = describe(error, server=server)
        finally:
            replies.close()
            done[index] = True
            changed.put(index)

    threads = [
        threading.Thread(target=run, args=(i, fn, server), daemon=True, name=f"compare-{name}")
        for i, (name, fn, server) in enumerate(models)
    ]
    for thread in threads:
        thread.start()
    try:
        while not all(done) or not changed.empty():
            changed.get()
            while not changed.empty():  # several steps since the last yield: one snapshot for all
                changed.get_nowait()
            yield [_answer(i, name, texts[i], errors[i], done[i]) for i, (name, _, _) in enumerate(models)]
    finally:
        stop.set()


def _answer(index: int, name: str, text: str, error: str | None, done: bool) -> ChatMessage:
    metadata: dict[str, Any] = {"title": name, "id": f"{COMPARE_PREFIX}{index}"}
    if not done:
        metadata["status"] = "pending"
    content = text
    if error:
        content = f"{text}\n\n**{error}**" if text else f"**{error}**"
    return ChatMessage(role="assistant", content=content, metadata=metadata)
