"""Chat through ``huggingface_hub.InferenceClient``: the HF Inference API, TGI, llama.cpp's
server, or any OpenAI-compatible chat-completions server."""

from __future__ import annotations

import base64
import json
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import InferenceClient
from huggingface_hub.errors import TextGenerationError

from webchat.backends.thinking import ReplyBuilder
from webchat.backends.tool_calls import MAX_ROUNDS, CallCollector, PendingCall, run_calls
from webchat.backends.tools import Toolbox
from webchat.errors import is_image_refusal
from webchat.files.types import HEAD_BYTES, sniff, sniff_file
from webchat.messages import ChatMessage
from webchat.turn_record import current as current_record

# What OpenAI-style vision models take as image parts; other images are described like files.
VISION_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Generation:
    """Sampling settings sent with every request."""

    system_prompt: str = ""
    max_tokens: int = 1024
    temperature: float | None = None
    top_p: float | None = None
    # The MCP servers whose tools are offered (None: every one configured; a conversation's toggle).
    tool_servers: tuple[str, ...] | None = None


def make_client(
    *, model: str | None, base_url: str | None, token: str | None, timeout: float, provider: str | None = None
) -> InferenceClient:
    # InferenceClient refuses model and base_url together; with a base URL the model name goes
    # into each request instead (OpenAI-compatible servers that host several models need it).
    if base_url:
        return InferenceClient(base_url=base_url, token=token, timeout=timeout)
    if provider:  # a Hugging Face Inference Provider serving the model id
        return InferenceClient(model=model, token=token, timeout=timeout, provider=provider)  # type: ignore[arg-type]
    return InferenceClient(model=model, token=token, timeout=timeout)


class ModelStreamError(Exception):
    """The model server's streamed answer was not a whole chat-completions stream; the text says
    how, to follow the server's name ("The model server … ended its stream early")."""


def _checked(stream: Iterator[Any]) -> Iterator[Any]:
    """The stream's chunks; a line that is not JSON, or an error event, as ModelStreamError."""
    try:
        yield from stream
    except json.JSONDecodeError:
        raise ModelStreamError("sent something that is not a valid chat-completions stream") from None
    except TextGenerationError as error:  # an {"error": ...} event in the stream
        detail = error.args[0] if error.args else None
        if isinstance(detail, Mapping):
            detail = detail.get("message")
        said = " ".join(str(detail).split())[:300] if detail else ""
        raise ModelStreamError(
            "sent an error in the middle of its stream" + (f": {said}" if said else "")
        ) from None


class InferenceChat:
    """A chat function (``fn(message, history)``) that streams from a model server."""

    def __init__(
        self,
        client: InferenceClient,
        *,
        model: str | None = None,
        generation: Generation = Generation(),
        model_id: str | None = None,
        images: bool = True,
        toolbox: Toolbox | None = None,
        context_length: int | None = None,
    ) -> None:
        self.client = client  # held for the whole stream: a collected client closes it mid-way
        self.model = model
        self.model_id = model_id or model  # what the turn record names (the local model's file)
        self.endpoint = str(getattr(client, "base_url", None) or getattr(client, "model", None) or "")
        self.generation = generation
        self.toolbox = toolbox  # MCP servers whose tools it may call (webchat.backends.tools)
        self.context_length = context_length  # tokens the model takes in all (None: not known)
        # Images go to the model as image parts until its server refuses them; then by name only,
        # so the conversation goes on (the refusal itself is shown as the reply's error). A model
        # the models file says reads none gets them by name from the start.
        self.images = images

    def __call__(self, message: Any, history: list[dict[str, Any]]) -> Iterator[str | list[ChatMessage]]:
        try:
            yield from self._stream(message, history)
        except Exception as error:
            if is_image_refusal(error):
                self.images = False
            raise

    def _stream(self, message: Any, history: list[dict[str, Any]]) -> Iterator[str | list[ChatMessage]]:
        request = to_openai_messages(history, message, self.generation.system_prompt, images=self.images)
        dropped = fit_context(request, self.context_length, self.generation.max_tokens)
        parameters: dict[str, Any] = {
            "max_tokens": self.generation.max_tokens,
            "temperature": self.generation.temperature,
            "top_p": self.generation.top_p,
        }
        tools = self.toolbox.tools(self.generation.tool_servers) if self.toolbox else []
        if tools:
            parameters["tools"] = [t.openai() for t in tools]
        record = current_record()
        if record is not None:  # the request as sent, its images as their files
            record.sent(self.endpoint, self.model_id, {**parameters, "stream": True}, _as_recorded(request))
            record.dropped_messages = dropped
        shown: list[ChatMessage] = []  # tool blocks and the words of earlier rounds
        for round_ in range(MAX_ROUNDS + 1):
            if round_ == MAX_ROUNDS:  # the last round answers without tools
                parameters.pop("tools", None)
            calls = yield from self._round(request, parameters, shown, record)
            if not calls or self.toolbox is None:
                return
            request.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments or "{}"},
                        }
                        for c in calls
                    ],
                }
            )
            approve = record.approve if record is not None else None
            calls_record = record.tool_calls if record is not None else None
            told: list[dict[str, Any]] = []  # the ``tool`` messages for the model's next round
            for blocks, told in run_calls(calls, self.toolbox, shown, approve, calls_record):  # noqa: B007
                yield list(blocks)
            request.extend(told)

    def _round(
        self,
        request: list[dict[str, Any]],
        parameters: dict[str, Any],
        shown: list[ChatMessage],
        record: Any,
    ) -> Generator[list[ChatMessage] | str, None, list[PendingCall]]:
        """One request to the model, streamed after what earlier rounds showed; returns the tool
        calls it asked for (none: its answer is complete)."""
        stream = self.client.chat_completion(as_sent(request), model=self.model, stream=True, **parameters)
        reply = ReplyBuilder()
        collector = CallCollector()
        chunks, tokens, finished = 0, 0, False
        finish_reason: str | None = None
        usage: dict[str, Any] | None = None
        try:
            for chunk in _checked(stream):
                chunks += 1
                if getattr(chunk, "usage", None):
                    usage = _usage(chunk.usage)
                if not chunk.choices:
                    continue
                finish_reason = finish_reason or chunk.choices[0].finish_reason
                finished = finished or bool(chunk.choices[0].finish_reason)
                delta = chunk.choices[0].delta
                collector.add(getattr(delta, "tool_calls", None))
                reasoning = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
                if delta.content or reasoning:
                    tokens += 1
                    if record is not None:
                        record.first_token()
                    reply.add(delta.content, reasoning)
                    yield _after(shown, reply.reply())
        finally:
            if record is not None:
                record.ended(tokens=tokens, usage=usage, finish_reason=finish_reason)
            close = getattr(stream, "close", None)
            if close:
                close()  # frees the server's slot at once when the user stops the reply
        if not chunks:
            raise ModelStreamError("answered with something that is not a stream of chat completions")
        if not finished:
            # A body that ends cleanly before the server said the reply is complete (a proxy or
            # the server cut it): what came is kept, and the reply ends as an error with Retry.
            raise ModelStreamError("ended its stream early, before the reply was complete")
        calls = collector.done()
        if calls:
            said = reply.reply()
            shown.extend([ChatMessage(content=said)] if isinstance(said, str) and said else said or [])
            return calls
        if not reply.content and not reply.reasoning:
            yield _after(shown, "")
        return []


def _after(shown: list[ChatMessage], reply: str | list[ChatMessage]) -> str | list[ChatMessage]:
    """The reply so far: earlier rounds' blocks and words, then this round's."""
    if not shown:
        return reply
    more = [ChatMessage(content=reply)] if isinstance(reply, str) else reply
    return [*shown, *(m for m in more if m.content != "" or m.metadata)]


CHARS_PER_TOKEN = 4  # a rough count of tokens (no tokenizer of every model is at hand)
MESSAGE_TOKENS = 4  # what each message costs besides its text (role, separators)
IMAGE_TOKENS = 800


def fit_context(request: list[dict[str, Any]], context_length: int | None, max_tokens: int) -> int:
    """Drop the oldest messages of the conversation (never the system prompt, never the newest
    message) until the request and the reply fit the model's context, as counted roughly; returns
    how many were dropped (the turn record says so). A model whose context is not known gets all."""
    if not context_length:
        return 0

    def size(message: dict[str, Any]) -> int:
        content = message.get("content")
        if isinstance(content, str):
            return MESSAGE_TOKENS + len(content) // CHARS_PER_TOKEN
        parts = content or []
        text = sum(len(p.get("text", "")) for p in parts if p.get("type") == "text")
        images = sum(1 for p in parts if p.get("type") == "image_url")
        return MESSAGE_TOKENS + text // CHARS_PER_TOKEN + images * IMAGE_TOKENS

    budget = context_length - min(max_tokens, context_length // 2)
    total = sum(size(m) for m in request)
    dropped = 0
    first = 1 if request and request[0]["role"] == "system" else 0
    while total > budget and len(request) - first > 1:
        total -= size(request.pop(first))
        dropped += 1
    while len(request) - first > 1 and request[first]["role"] == "assistant":  # start on a user's turn
        request.pop(first)
        dropped += 1
    return dropped


def to_openai_messages(
    history: list[dict[str, Any]], message: Any, system_prompt: str = "", *, images: bool = True
) -> list[dict[str, Any]]:
    """The chat-completions ``messages`` for a history plus the new user message.

    Thought blocks (messages with a ``metadata.title``) are the assistant's working, not its
    answer, so they are left out, as are empty messages that only carried an error. A user's
    files and text of one turn (one message each in the messages format) become one message:
    images as OpenAI ``image_url`` parts with data URLs (when ``images``), other files described
    by name and type.
    """
    result: list[dict[str, Any]] = []
    if system_prompt:
        result.append({"role": "system", "content": system_prompt})
    for item in history:
        if (item.get("metadata") or {}).get("title"):
            continue
        role = item["role"]
        _append(result, role, content_parts(item.get("content"), images=images and role == "user"))
    if isinstance(message, Mapping):
        for file in message.get("files") or []:
            file = file if isinstance(file, Mapping) else {"path": str(file)}
            _append(result, "user", content_parts(file, images=images))
        text = message.get("text") or ""
    else:
        text = str(message)
    _append(result, "user", content_parts(text))
    return [_flatten(m) for m in result]


def as_sent(request: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages without the file each image part was made from (kept for the turn record)."""
    return [_each_part(m, lambda part: {k: v for k, v in part.items() if k != "_file"}) for m in request]


def _as_recorded(request: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages for the turn record: each image part as its file, not its bytes."""
    return [
        _each_part(m, lambda p: {"type": "image_url", "file": p["_file"]} if "_file" in p else p)
        for m in request
    ]


def _each_part(message: dict[str, Any], change: Any) -> dict[str, Any]:
    content = message["content"]
    if content is None or isinstance(content, str):  # text, or none (a turn that only calls tools)
        return message
    return {**message, "content": [change(p) for p in content]}


def _usage(usage: Any) -> dict[str, Any]:
    """The token counts a server reported (prompt, completion, total)."""
    names = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {n: getattr(usage, n) for n in names if getattr(usage, n, None) is not None}


def _append(result: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return
    if role == "user" and result and result[-1]["role"] == "user":
        result[-1]["content"].extend(parts)
    else:
        result.append({"role": role, "content": list(parts)})


def _flatten(message: dict[str, Any]) -> dict[str, Any]:
    """Text-only content as one string (what every server and chat template takes)."""
    parts = message["content"]
    if isinstance(parts, str) or any(p["type"] != "text" for p in parts):
        return message
    return {**message, "content": "\n\n".join(p["text"] for p in parts)}


def content_parts(content: Any, *, images: bool = False) -> list[dict[str, Any]]:
    """Content parts for the model: text, image parts for images, a description for other files."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):  # Gradio 6's content blocks (a ChatInterface's history)
        return [part for block in content for part in content_parts(_unblock(block), images=images)]
    if not isinstance(content, Mapping):
        return []
    value = content.get("value", content) if "component" in content else content
    parts = []
    for file in value if isinstance(value, list) else [value]:
        if not isinstance(file, Mapping):
            continue
        image = _image_part(file) if images else None
        parts.append(image or {"type": "text", "text": _describe_file(file)})
    return parts


def _unblock(block: Any) -> Any:
    """A Gradio 6 content block as webchat content: text, a FileData, or a component dict."""
    if isinstance(block, Mapping) and block.get("type") == "text":
        return str(block.get("text") or "")
    if isinstance(block, Mapping) and block.get("type") == "file":
        return block.get("file")
    return block


def content_text(content: Any) -> str:
    """Text for the model: the text itself, or a file described by name and type."""
    return " ".join(p["text"] for p in content_parts(content))


def _image_part(file: Mapping[str, Any]) -> dict[str, Any] | None:
    """An OpenAI ``image_url`` part with the image as a data URL; None if it is not an image a
    vision model takes (the type is sniffed from the bytes) or cannot be read."""
    try:
        with open(str(file.get("path", "")), "rb") as source:
            data = source.read(MAX_IMAGE_BYTES + 1)
    except OSError:
        return None
    mime = sniff(data[:HEAD_BYTES])
    if mime not in VISION_TYPES or len(data) > MAX_IMAGE_BYTES:
        return None
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    # "_file": which file this is, for the turn record; taken off before the request goes out.
    # The new message's files come as paths alone (Gradio's message dict): named by their name,
    # as no server path leaves.
    named = {k: file.get(k) for k in ("orig_name", "url", "mime_type", "size") if file.get(k) is not None}
    named.setdefault("orig_name", Path(str(file.get("path", ""))).name)
    named.setdefault("mime_type", mime)
    return {"type": "image_url", "image_url": {"url": url}, "_file": named}


def _describe_file(file: Mapping[str, Any]) -> str:
    path = str(file.get("path", ""))
    name = file.get("orig_name") or path.replace("\\", "/").rsplit("/", 1)[-1]
    kind = file.get("mime_type")
    if not kind:
        try:
            kind = sniff_file(Path(path))
        except OSError:
            kind = "unknown type"
    return f"[attached file: {name} ({kind})]"
