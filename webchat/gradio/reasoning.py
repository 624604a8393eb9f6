"""Gradio's ``gr.Chatbot(reasoning_tags=[("<thinking>", "</thinking>")])``: the text between the
tags of a reply becomes a collapsible thought ("Reasoning"), the rest stays the answer.

A reply may hold several such passages between parts of its answer; a passage whose closing tag
has not arrived yet (while the reply streams) is a thought still being written.
"""

from __future__ import annotations

from collections.abc import Sequence

from webchat.messages import ChatMessage

Tags = Sequence[tuple[str, str]]
TITLE = "Reasoning"


def tags_of(value: object) -> tuple[tuple[str, str], ...]:
    """The ``reasoning_tags`` given, checked: pairs of non-empty strings."""
    if not value:
        return ()
    pairs = list(value) if isinstance(value, list | tuple) else [value]
    for pair in pairs:
        if not (
            isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(t, str) and t for t in pair)
        ):
            raise ValueError(f"reasoning_tags takes (opening, closing) pairs of strings, not {pair!r}")
    return tuple((str(a), str(b)) for a, b in pairs)


def split_reasoning(reply: list[ChatMessage], tags: Tags) -> list[ChatMessage]:
    """``reply`` with each answer's tagged passages as thoughts before, between or after its text."""
    if not tags:
        return reply
    result: list[ChatMessage] = []
    for message in reply:
        if (
            message.role != "assistant"
            or not isinstance(message.content, str)
            or message.metadata.get("title")
        ):
            result.append(message)
        else:
            result.extend(_split(message.content, tags))
    return result


def _split(text: str, tags: Tags) -> list[ChatMessage]:
    parts: list[ChatMessage] = []
    position = 0
    while True:
        found = [(text.find(opening, position), opening, closing) for opening, closing in tags]
        found = [f for f in found if f[0] >= 0]
        if not found:
            _answer(parts, text[position:])
            return parts
        start, opening, closing = min(found)
        _answer(parts, text[position:start])
        end = text.find(closing, start + len(opening))
        if end < 0:  # still being written
            parts.append(_thought(text[start + len(opening) :], "pending"))
            return parts
        parts.append(_thought(text[start + len(opening) : end], "done"))
        position = end + len(closing)


def _answer(parts: list[ChatMessage], text: str) -> None:
    if text.strip():
        parts.append(ChatMessage(role="assistant", content=text.strip()))


def _thought(text: str, status: str) -> ChatMessage:
    return ChatMessage(role="assistant", content=text.strip(), metadata={"title": TITLE, "status": status})
