"""A model that needs nothing: it streams the user's words back. For demos and tests."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any


class EchoChat:
    def __init__(self, delay: float = 0.03) -> None:
        self.delay = delay

    def __call__(self, message: Any, history: list[dict[str, Any]]) -> Iterator[str]:
        text = message.get("text", "") if isinstance(message, Mapping) else str(message)
        words = f"You said: {text}".split(" ")
        reply = ""
        for index, word in enumerate(words):
            reply += (" " if index else "") + word
            yield reply
            time.sleep(self.delay)
