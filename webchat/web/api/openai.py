"""OpenAI chat completions in and out: a request becomes a chat-function call, a reply a completion.

The request's last message is the user's new ``message``; the ones before it are the ``history``,
in Gradio's messages format. An image part (a ``data:`` URL) becomes a file in a folder the caller
owns and is passed as FileData, as the page passes an upload: one message per file after the text.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webchat.backends import Backend
from webchat.chat import ChatFunction, Reply
from webchat.errors import too_long
from webchat.files.types import HEAD_BYTES, sniff
from webchat.messages import ChatMessage, FileData, filedata

MAX_MESSAGES = 2000
MAX_IMAGES = 16
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Sniffed from the bytes: the type a data URL claims is not trusted.
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
ROLE_NAMES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^,;]*)*),(?P<data>.*)", re.DOTALL)


class RequestError(ValueError):
    """A request the API refuses; the text says what is wrong and ``param`` where (OpenAI's fields)."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


@dataclass(frozen=True)
class Image:
    data: bytes
    mime_type: str


@dataclass
class Part:
    """One request message after validation: text plus the images it carried."""

    role: str
    text: str
    images: list[Image] = field(default_factory=list)


@dataclass(frozen=True)
class Sampling:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None


@dataclass
class CompletionRequest:
    model: str | None
    stream: bool
    messages: list[Part]
    sampling: Sampling

    @property
    def has_images(self) -> bool:
        return any(part.images for part in self.messages)

    @property
    def has_system(self) -> bool:
        return any(part.role == "system" for part in self.messages)

    @property
    def last(self) -> Part:
        return self.messages[-1]


def parse_request(body: Any, *, max_message_chars: int) -> CompletionRequest:
    """Validate a chat-completions body; every refusal names the field (``param``) at fault."""
    if not isinstance(body, Mapping):
        raise RequestError("The body must be a JSON object with 'messages'.")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise RequestError("'model' must be a string.", param="model")
    stream = _optional(body, "stream", bool, "true or false") or False
    n = _optional(body, "n", int, "an integer")
    if n is not None and n != 1:
        raise RequestError("Only n=1 is supported: one completion per request.", param="n")
    tools = body.get("tools")
    if tools not in (None, []):
        raise RequestError("Tools (function calling) are not supported by this server.", param="tools")
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, Mapping) or response_format.get("type") != "text"
    ):
        raise RequestError("Only the 'text' response format is supported.", param="response_format")
    if body.get("logprobs") is not None and body.get("logprobs") is not False:
        raise RequestError("Log probabilities are not available from this server.", param="logprobs")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise RequestError("'stream_options' must be an object.", param="stream_options")
    sampling = Sampling(
        max_tokens=_positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens"),
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
    )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list of messages.", param="messages")
    if len(messages) > MAX_MESSAGES:
        raise RequestError(f"At most {MAX_MESSAGES} messages fit in one request.", param="messages")
    parts = [_part(index, item) for index, item in enumerate(messages)]
    last = parts[-1]
    if last.role != "user":
        raise RequestError(
            "The last message must be the user's (role 'user'): it is the one the chat answers.",
            param=f"messages[{len(parts) - 1}].role",
        )
    too_long_error = too_long(last.text, max_message_chars, "The last message")
    if too_long_error is not None:
        raise RequestError(too_long_error.message, param=f"messages[{len(parts) - 1}].content", status=413)
    if sum(len(part.images) for part in parts) > MAX_IMAGES:
        raise RequestError(f"At most {MAX_IMAGES} images fit in one request.", param="messages")
    return CompletionRequest(model, stream, parts, sampling)


def _optional(body: Mapping[str, Any], key: str, kind: type, wording: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON does not tell 2 from 2.0
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(f"'{key}' must be {wording}.", param=key)
    return value


def _positive_int(body: Mapping[str, Any], key: str) -> int | None:
    value = _optional(body, key, int, "a positive integer")
    if value is not None and value < 1:
        raise RequestError(f"'{key}' must be a positive integer.", param=key)
    return value


def _number(body: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RequestError(f"'{key}' must be a number from {low:g} to {high:g}.", param=key)
    return float(value)


def _part(index: int, item: Any) -> Part:
    where = f"messages[{index}]"
    if not isinstance(item, Mapping):
        raise RequestError(f"{where} must be an object with 'role' and 'content'.", param=where)
    role = item.get("role")
    if not isinstance(role, str):
        role = None  # (a dict or a list is not a role, and cannot be looked up as one)
    if role in ("tool", "function"):
        raise RequestError(f"{where}: tool messages are not supported by this server.", param=f"{where}.role")
    if role not in ROLE_NAMES:
        raise RequestError(
            f"{where}: 'role' must be one of system, developer, user, assistant.", param=f"{where}.role"
        )
    if "content" not in item:
        raise RequestError(f"{where} has no 'content'.", param=f"{where}.content")
    content = item["content"]
    texts: list[str] = []
    images: list[Image] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for number, piece in enumerate(content):
            _content_part(f"{where}.content[{number}]", role, piece, texts, images)
    elif content is None and role == "assistant":
        pass  # an assistant turn that only called tools: nothing to keep
    else:
        raise RequestError(
            f"{where}: 'content' must be a string or a list of content parts.", param=f"{where}.content"
        )
    part = Part(ROLE_NAMES[role], "\n".join(texts), images)
    if role == "user" and not part.text.strip() and not images:
        raise RequestError(f"{where}: the user's message is empty.", param=f"{where}.content")
    return part


def _content_part(where: str, role: str, piece: Any, texts: list[str], images: list[Image]) -> None:
    kind = piece.get("type") if isinstance(piece, Mapping) else None
    if kind == "text":
        text = piece.get("text")
        if not isinstance(text, str):
            raise RequestError(f"{where}: a text part needs a 'text' string.", param=f"{where}.text")
        texts.append(text)
    elif kind == "image_url":
        if role != "user":
            raise RequestError(f"{where}: only the user's messages can carry images.", param=where)
        ref = piece.get("image_url")
        url = ref.get("url") if isinstance(ref, Mapping) else ref
        if not isinstance(url, str):
            raise RequestError(f"{where}: an image part needs 'image_url.url'.", param=f"{where}.image_url")
        images.append(decode_image(url, where=f"{where}.image_url.url"))
    else:
        raise RequestError(
            f"{where}: content parts must be of type 'text' or 'image_url'.", param=f"{where}.type"
        )


def decode_image(url: str, *, where: str) -> Image:
    """An image from a base64 ``data:`` URL. Remote URLs are refused: the server fetches nothing."""
    match = DATA_URL.fullmatch(url.strip())
    if not match:
        raise RequestError(
            f"{where}: images must be sent inline as a base64 data: URL "
            "(data:image/png;base64,...); this server does not fetch remote URLs.",
            param=where,
        )
    if ";base64" not in match.group("params"):
        raise RequestError(f"{where}: the data: URL must be base64-encoded.", param=where)
    data = match.group("data")
    if len(data) * 3 // 4 > MAX_IMAGE_BYTES + 3:
        raise RequestError(
            f"{where}: the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB.",
            param=where,
            status=413,
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{where}: the data: URL is not valid base64.", param=where) from None
    mime_type = sniff(raw[:HEAD_BYTES])
    if mime_type not in IMAGE_TYPES:
        raise RequestError(f"{where}: the data is not a PNG, JPEG, GIF or WebP image.", param=where)
    return Image(raw, mime_type)


def to_messages(part: Part, folder: Path) -> list[ChatMessage]:
    """One request message in messages format: its text, then one FileData message per image."""
    result = [ChatMessage(role=part.role, content=part.text)] if part.text or not part.images else []  # type: ignore[arg-type]
    for image in part.images:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"image-{secrets.token_hex(6)}.{IMAGE_TYPES[image.mime_type]}"
        path = folder / name
        path.write_bytes(image.data)
        file: FileData = filedata(str(path), size=len(image.data), orig_name=name, mime_type=image.mime_type)
        result.append(ChatMessage(role=part.role, content=file))  # type: ignore[arg-type]
    return result


def chat_inputs(
    request: CompletionRequest, folder: Path, *, multimodal: bool
) -> tuple[Any, list[dict[str, Any]]]:
    """The chat function's ``message`` and ``history`` for this request (images saved in ``folder``)."""
    if request.has_images and not multimodal:
        raise RequestError("This chat takes text only; remove the image_url parts.", param="messages")
    history = [m.to_dict() for part in request.messages[:-1] for m in to_messages(part, folder)]
    last = request.last
    if not multimodal:
        return last.text, history
    files = [m.content["path"] for m in to_messages(last, folder) if isinstance(m.content, dict)]
    return {"text": last.text, "files": files}, history


def for_request(backend: Backend, request: CompletionRequest) -> ChatFunction:
    """The chat function with the request's sampling applied, when it is a model we drive ourselves.

    Only the model backends take sampling settings; a Python chat function is called as it is.
    The server's system prompt gives way to one sent in the request (models accept one).
    """
    own, sampling = backend.generation, request.sampling
    if own is None:
        return backend.chat
    return backend.tuned(
        {
            "max_tokens": min(sampling.max_tokens or own.max_tokens, own.max_tokens),
            "temperature": own.temperature if sampling.temperature is None else sampling.temperature,
            "top_p": own.top_p if sampling.top_p is None else sampling.top_p,
            "system_prompt": "" if request.has_system else own.system_prompt,
        }
    )


def reply_text(reply: Reply) -> str:
    """A reply as completion text: its answers, without thought blocks; files are left out."""
    texts = [m.content for m in reply if isinstance(m.content, str) and not m.metadata.get("title")]
    return "\n\n".join(t for t in texts if t)


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def completion(completion_id: str, model: str, text: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "webchat",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": None,
    }


def chunk(
    completion_id: str, model: str, *, delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "webchat",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
