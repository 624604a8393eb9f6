"""Adapts any chat function written for Gradio's messages format into a stream of replies.

A chat function is called as ``fn(message, history, *additional_inputs)``. It may return, or
yield step by step, a string, a message dict, a ChatMessage, a FileData dict, or a list of
these (several bubbles). Each yield is the reply *so far*, as in Gradio: the turn runner turns
two successive replies into a delta (the text grew) or a replace (anything else changed).
Gradio 6's forms are understood too (content as a list of blocks); :func:`gradio_history` turns
webchat's history into the one Gradio 6 passes (webchat.interface does that for ChatInterface).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from webchat import aio
from webchat.errors import Error
from webchat.messages import (
    ChatMessage,
    MessageError,
    MetadataDict,
    is_filedata,
    message_from_dict,
    validate_content,
)

ChatFunction = Callable[..., Any]
Reply = list[ChatMessage]


class ChatFunctionError(Error):
    """A chat function produced something that is not a reply; the text says what (shown in the chat)."""


def stream_reply(
    fn: ChatFunction, message: Any, history: list[dict[str, Any]], *extra: Any
) -> Iterator[Reply]:
    """Call ``fn`` and yield the whole reply after each step; closing this closes ``fn``'s generator."""
    # fn may append to its history (Gradio's guide does); ours must stay intact.
    outputs = iterate_outputs(fn, message, list(history), *extra)
    try:
        for output in outputs:
            yield to_reply(output, history, message)
    finally:
        outputs.close()


def iterate_outputs(fn: ChatFunction, *args: Any) -> Iterator[Any]:
    """What ``fn(*args)`` returns, or each thing it yields: plain and generator functions, coroutines
    and async generators alike. Closing this closes ``fn``'s generator."""
    result = fn(*args)
    if inspect.isgenerator(result):
        try:
            yield from result
        finally:
            result.close()
    elif inspect.isasyncgen(result):
        yield from aio.iterate(result)  # one asyncio loop per process, in its own thread
    else:
        if inspect.iscoroutine(result):
            result = aio.run(result)
        yield result


def to_reply(output: Any, history: list[dict[str, Any]], message: Any) -> Reply:
    """Normalise one output of a chat function into the list of reply messages it stands for."""
    if output is None:
        return []
    if isinstance(output, list | tuple) and not _is_file_tuple(output):
        items = strip_echo(list(output), history, message)
        return [m for item in items for m in to_messages(item)]
    return to_messages(output)


def to_message(item: Any) -> ChatMessage:
    """One reply item as an assistant ChatMessage (roles other than assistant are kept as given)."""
    messages = to_messages(item)
    if len(messages) != 1:
        raise ChatFunctionError("the chat function returned a message that mixes text and files")
    return messages[0]


def text_reply(text: str) -> ChatMessage:
    """``ChatMessage(content=text)``, without validating what cannot be wrong: most chat functions
    yield the text so far once per token, and validation was a fifth of the runner's cost a token."""
    message = object.__new__(ChatMessage)
    message.content, message.role, message.metadata, message.options = text, "assistant", MetadataDict(), []
    return message


def to_messages(item: Any) -> list[ChatMessage]:
    """One reply item as ChatMessages: usually one, several for a Gradio 6 message whose content
    list mixes text and files (webchat keeps one piece of content per message)."""
    if isinstance(item, str):
        return [text_reply(item)]
    try:
        if isinstance(item, ChatMessage):
            # A copy: functions often change one ChatMessage and yield it again (a thought whose
            # status turns "done"), and the reply so far must not change behind the turn's back.
            return [
                ChatMessage(
                    content=item.content,
                    role=item.role,
                    metadata=dict(item.metadata),  # type: ignore[arg-type]
                    options=[dict(o) for o in item.options],  # type: ignore[misc]
                )
            ]
        if isinstance(item, tuple) and _is_file_tuple(item):
            return [ChatMessage(content={"path": str(item[0])})]  # type: ignore[typeddict-item]
        if isinstance(item, Mapping):
            if "role" in item or ("content" in item and "path" not in item):
                return [message_from_dict(part) for part in _split_mixed({"role": "assistant", **item})]
            if is_filedata(item) or "component" in item or item.get("type") in CONTENT_BLOCKS:
                return [ChatMessage(content=validate_content(item))]
        if hasattr(item, "to_message_content"):  # the media helpers (Image, Audio, ...)
            return [ChatMessage(content=validate_content(item))]
    except MessageError as error:
        raise ChatFunctionError(f"the chat function returned an invalid message: {error}") from None
    raise ChatFunctionError(
        f"the chat function returned {type(item).__name__}; expected a string, a message dict, "
        "a ChatMessage, file data, or a list of these"
    )


CONTENT_BLOCKS = ("text", "file", "component")


def _split_mixed(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A message dict whose content list mixes text and files, as one message per piece (text
    pieces next to each other stay together); metadata goes to the first, options to the last."""
    content = item.get("content")
    if not isinstance(content, list) or len(content) < 2:
        return [item]
    try:
        validate_content(content)
        return [item]
    except MessageError:
        pass
    groups: list[list[Any]] = []
    for piece in content:
        is_text = isinstance(piece, str) or (isinstance(piece, Mapping) and piece.get("type") == "text")
        if is_text and groups and groups[-1] and _is_text_piece(groups[-1][-1]):
            groups[-1].append(piece)
        else:
            groups.append([piece])
    parts: list[Mapping[str, Any]] = []
    for index, group in enumerate(groups):
        part = {"role": item["role"], "content": group}
        if index == 0 and item.get("metadata"):
            part["metadata"] = item["metadata"]
        if index == len(groups) - 1 and item.get("options"):
            part["options"] = item["options"]
        parts.append(part)
    return parts


def _is_text_piece(piece: Any) -> bool:
    return isinstance(piece, str) or (isinstance(piece, Mapping) and piece.get("type") == "text")


def _is_file_tuple(value: Any) -> bool:
    # Gradio accepts (path,) or (path, alt_text) as file content.
    return isinstance(value, tuple) and 1 <= len(value) <= 2 and isinstance(value[0], str)


def strip_echo(items: list[Any], history: list[Any], message: Any) -> list[Any]:
    """Drop a returned copy of the history and of the user's message.

    Gradio's guide has functions that append to ``history`` and return all of it; the reply is
    only what they added after the history and the user's own message. ``history`` may be in
    either form (webchat's or Gradio 6's content blocks): messages are compared by role and
    content.
    """
    if (
        len(items) >= len(history)
        and history
        and all(a is b or _same_message(a, b) for a, b in zip(items, history, strict=False))
    ):
        items = items[len(history) :]
    # A system message a function puts first (Gradio's guide starts an empty history with one)
    # stays in the reply, ahead of what follows the echo.
    system = 0
    while system < len(items) and _role(items[system]) == "system":
        system += 1
    lead, items = items[:system], items[system:]
    text = message.get("text") if isinstance(message, Mapping) else message
    if items and _role(items[0]) == "user" and _content(items[0]) == text:
        return [*lead, *items[1:]]
    if isinstance(message, Mapping):  # a text-and-files message, echoed in whatever shape
        files = {str(f) for f in message.get("files") or []}
        while items and _role(items[0]) == "user" and _echoes(items[0], text, files):
            items = items[1:]
    return [*lead, *items]


def _echoes(item: Any, text: Any, files: set[str]) -> bool:
    """Is this user message made of the sent message's text and files only (Gradio 6 puts both
    in one message as content blocks: ``[{"path": ...}, "text"]``)?"""
    raw = (
        item.content
        if isinstance(item, ChatMessage)
        else item.get("content")
        if isinstance(item, Mapping)
        else None
    )
    pieces = raw if isinstance(raw, list) else [raw]
    for piece in pieces:
        if isinstance(piece, Mapping) and piece.get("type") == "text":
            piece = piece.get("text")
        if isinstance(piece, Mapping):
            file = piece.get("file", piece)
            if not isinstance(file, Mapping) or str(file.get("path")) not in files:
                return False
        elif piece != text:
            return False
    return bool(pieces)


def _role(item: Any) -> str | None:
    if isinstance(item, ChatMessage):
        return item.role
    return item.get("role") if isinstance(item, Mapping) else None


def _content(item: Any) -> Any:
    """A message's content in one comparable form (text, or the file's path)."""
    if isinstance(item, ChatMessage):
        raw = item.content
    else:
        raw = item.get("content") if isinstance(item, Mapping) else None
    try:
        content = validate_content(raw)
    except MessageError:
        return raw
    if isinstance(content, Mapping):
        value = content.get("value", content)
        return tuple(f.get("path") for f in value) if isinstance(value, list) else value.get("path")
    return content


def _same_message(a: Any, b: Any) -> bool:
    return _role(a) == _role(b) and _content(a) == _content(b)


def gradio_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``history`` Gradio 6 passes to a chat function, from webchat's message dicts.

    Each message is ``{"role", "metadata", "content", "options"}`` with ``content`` a list of
    blocks (``{"text", "type": "text"}``, ``{"file": FileData, "alt_text", "type": "file"}``,
    components), ``metadata`` and ``options`` None when empty. The files a user sent with a
    message are one message with the text, files first, as Gradio groups them.
    """
    result: list[dict[str, Any]] = []
    for item in history:
        block = content_block(item.get("content", ""))
        last = result[-1] if result else None
        if last is not None and item.get("role") == "user" == last["role"] and _joinable(last, block):
            last["content"].append(block)
            last["content"].sort(key=lambda b: b["type"] == "text")  # files first, then the text
            continue
        result.append(
            {
                "role": item.get("role"),
                "metadata": dict(item["metadata"]) if item.get("metadata") else None,
                "content": [block],
                "options": [dict(o) for o in item["options"]] if item.get("options") else None,
            }
        )
    return result


def _joinable(last: dict[str, Any], block: dict[str, Any]) -> bool:
    # A user's text and files of one message sit next to each other; two texts are two messages.
    has_text = any(b["type"] == "text" for b in last["content"])
    return not (has_text and block["type"] == "text") and not last["metadata"]


def content_block(content: Any) -> dict[str, Any]:
    """One piece of content as a Gradio 6 content block."""
    if isinstance(content, str):
        return {"text": content, "type": "text"}
    if isinstance(content, Mapping) and "component" in content:
        return {
            "component": content["component"],
            "value": content.get("value"),
            "constructor_args": dict(content.get("constructor_args") or {}),
            "props": dict(content.get("props") or {}),
            "type": "component",
        }
    if isinstance(content, Mapping):
        return {"file": dict(content), "alt_text": None, "type": "file"}
    return {"text": str(content), "type": "text"}
