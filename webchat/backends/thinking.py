"""A model's reasoning, shown as a thought block above its answer (as Gradio shows thoughts).

Reasoning arrives either in its own field (``reasoning_content`` in OpenAI-style deltas, as
DeepSeek, vLLM and llama.cpp send it) or inline as ``<think>…</think>`` at the start of the text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from webchat.messages import ChatMessage, MetadataDict

OPEN, CLOSE = "<think>", "</think>"
TITLE = "Thinking"


def split_think(text: str) -> tuple[str | None, str, bool]:
    """(thought, answer, thought_finished) of text that may start with ``<think>``."""
    stripped = text.lstrip()
    if not stripped:
        return None, "", False
    if not stripped.startswith(OPEN):
        if OPEN.startswith(stripped):  # the tag itself is still arriving
            return "", "", False
        return None, text, True
    body = stripped[len(OPEN) :]
    end = body.find(CLOSE)
    if end < 0:
        return body, "", False
    return body[:end].strip(), body[end + len(CLOSE) :].lstrip(), True


@dataclass
class ReplyBuilder:
    """Accumulates a streamed answer and its reasoning into the reply so far."""

    reasoning: str = ""
    content: str = ""
    started: float = field(default_factory=time.monotonic)
    thought_seconds: float | None = None

    def add(self, content: str | None = None, reasoning: str | None = None) -> None:
        self.content += content or ""
        self.reasoning += reasoning or ""

    def reply(self) -> str | list[ChatMessage]:
        inline, answer, finished = split_think(self.content)
        thought = self.reasoning or inline
        if self.reasoning:
            answer, finished = self.content, bool(self.content.strip())
        if thought is None or (not thought and not finished):
            return answer if thought is None else ""
        if finished and self.thought_seconds is None:
            self.thought_seconds = round(time.monotonic() - self.started, 1)
        metadata = MetadataDict(title=TITLE, status="done" if finished else "pending")
        if self.thought_seconds is not None:
            metadata["duration"] = self.thought_seconds
        messages = [ChatMessage(content=thought.strip(), metadata=metadata)]
        if answer:
            messages.append(ChatMessage(content=answer))
        return messages
