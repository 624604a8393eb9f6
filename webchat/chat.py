"""Adapts any chat function written for Gradio's messages format into a stream of replies.

A chat function is called as ``fn(message, history, *additional_inputs)``. It may return, or
yield step by step, a string, a message dict, a ChatMessage, a FileData dict, or a list of
these (several bubbles). Each yield is the reply *so far*, as in Gradio: the turn runner turns
two successive replies into a delta (the text grew) or a replace (anything else changed).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from webchat.errors import Error
from webchat.messages import ChatMessage, MessageError, is_filedata, message_from_dict

ChatFunction = Callable[..., Any]
Reply = list[ChatMessage]


class ChatFunctionError(Error):
    """A chat function produced something that is not a reply; the text says what (shown in the chat)."""


def stream_reply(
    fn: ChatFunction, message: Any, history: list[dict[str, Any]], *extra: Any
) -> Iterator[Reply]:
    """Call ``fn`` and yield the whole reply after each step; closing this closes ``fn``'s generator."""
    passed = list(history)  # fn may append to its history (Gradio's guide does); keep ours intact
    result = fn(message, passed, *extra)
    if inspect.isgenerator(result):
        try:
            for output in result:
                yield to_reply(output, history, message)
        finally:
            result.close()
    elif inspect.isasyncgen(result):
        yield from _iterate_async(result, history, message)
    else:
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        yield to_reply(result, history, message)


def _iterate_async(agen: AsyncIterator[Any], history: list[dict[str, Any]], message: Any) -> Iterator[Reply]:
    """Drive an async generator from this (worker) thread, one step per yield."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                output = loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
            yield to_reply(output, history, message)
    finally:
        loop.run_until_complete(agen.aclose())  # type: ignore[attr-defined]
        loop.close()


def to_reply(output: Any, history: list[dict[str, Any]], message: Any) -> Reply:
    """Normalise one output of a chat function into the list of reply messages it stands for."""
    if output is None:
        return []
    if isinstance(output, list | tuple) and not _is_file_tuple(output):
        items = _strip_echoed_history(list(output), history, message)
        return [to_message(item) for item in items]
    return [to_message(output)]


def to_message(item: Any) -> ChatMessage:
    """One reply item as an assistant ChatMessage (roles other than assistant are kept as given)."""
    if isinstance(item, ChatMessage):
        return item
    if isinstance(item, str):
        return ChatMessage(content=item)
    if isinstance(item, tuple) and _is_file_tuple(item):
        return ChatMessage(content={"path": str(item[0])})
    if isinstance(item, Mapping):
        try:
            if "role" in item or ("content" in item and "path" not in item):
                return message_from_dict({"role": "assistant", **item})
            if is_filedata(item) or "component" in item:
                return ChatMessage(content=dict(item))  # type: ignore[arg-type]
        except MessageError as error:
            raise ChatFunctionError(f"the chat function returned an invalid message: {error}") from None
    if hasattr(item, "to_message_content"):  # the media helpers (Image, Audio, ...)
        return ChatMessage(content=item.to_message_content())
    raise ChatFunctionError(
        f"the chat function returned {type(item).__name__}; expected a string, a message dict, "
        "a ChatMessage, file data, or a list of these"
    )


def _is_file_tuple(value: Any) -> bool:
    # Gradio accepts (path,) or (path, alt_text) as file content.
    return isinstance(value, tuple) and 1 <= len(value) <= 2 and isinstance(value[0], str)


def _strip_echoed_history(items: list[Any], history: list[dict[str, Any]], message: Any) -> list[Any]:
    """Drop a returned copy of the history and of the user's message.

    Gradio's guide has functions that append to ``history`` and return all of it; the reply is
    only what they added after the history and the user's own message.
    """
    if (
        len(items) >= len(history)
        and history
        and all(_same_message(a, b) for a, b in zip(items, history, strict=False))
    ):
        items = items[len(history) :]
    text = message.get("text") if isinstance(message, Mapping) else message
    if items and _role(items[0]) == "user" and _text(items[0]) == text:
        items = items[1:]
    return items


def _role(item: Any) -> str | None:
    if isinstance(item, ChatMessage):
        return item.role
    return item.get("role") if isinstance(item, Mapping) else None


def _text(item: Any) -> Any:
    if isinstance(item, ChatMessage):
        return item.content
    return item.get("content") if isinstance(item, Mapping) else None


def _same_message(a: Any, b: Mapping[str, Any]) -> bool:
    return _role(a) == b.get("role") and _text(a) == b.get("content")
