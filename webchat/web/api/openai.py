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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from webchat.backends import Backend
from webchat.chat import ChatFunction, Reply
from webchat.errors import too_long
from webchat.files.types import HEAD_BYTES, sniff
from webchat.messages import ChatMessage, FileData, filedata
from webchat.web.api import schemas
from webchat.web.api.schemas import MAX_IMAGES

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
    """Validate a chat-completions body; every refusal names the field (``param``) at fault.

    The schema (``schemas.ChatCompletionRequest``) checks shapes and types; what it cannot say
    is checked here: the last message is the user's and within the length limit, a user's
    message is not empty, images come from the user only, are real images, and are few enough.
    """
    try:
        valid = schemas.ChatCompletionRequest.model_validate(body)
    except ValidationError as error:
        message, param = schemas.refusal(error)
        raise RequestError(message, param=param) from None
    sampling = Sampling(
        max_tokens=valid.max_completion_tokens or valid.max_tokens,
        temperature=valid.temperature,
        top_p=valid.top_p,
    )
    parts = [_part(f"messages[{index}]", item) for index, item in enumerate(valid.messages)]
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
    return CompletionRequest(valid.model, bool(valid.stream), parts, sampling)


def _part(where: str, item: schemas.ChatCompletionMessage) -> Part:
    content = item.content
    if content is None and item.role != "assistant":
        raise RequestError(
            f"{where}: only an assistant's 'content' may be null (a tool call).", param=f"{where}.content"
        )
    pieces = [schemas.TextPart(type="text", text=content)] if isinstance(content, str) else content or []
    texts: list[str] = []
    images: list[Image] = []
    for number, piece in enumerate(pieces):
        if isinstance(piece, schemas.TextPart):
            texts.append(piece.text)
            continue
        here = f"{where}.content[{number}]"
        if item.role != "user":
            raise RequestError(f"{here}: only the user's messages can carry images.", param=here)
        url = piece.image_url if isinstance(piece.image_url, str) else piece.image_url.url
        images.append(decode_image(url, where=f"{here}.image_url.url"))
    part = Part(ROLE_NAMES[item.role], "\n".join(texts), images)
    if item.role == "user" and not part.text.strip() and not images:
        raise RequestError(f"{where}: the user's message is empty.", param=f"{where}.content")
    return part


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


def completion(completion_id: str, model: str, text: str) -> schemas.ChatCompletion:
    return schemas.ChatCompletion(
        id=completion_id,
        created=int(time.time()),
        model=model,
        choices=[schemas.Choice(message=schemas.AssistantMessage(content=text))],
    )


def chunk(
    completion_id: str, model: str, *, delta: schemas.Delta, finish_reason: Literal["stop"] | None = None
) -> schemas.ChatCompletionChunk:
    return schemas.ChatCompletionChunk(
        id=completion_id,
        created=int(time.time()),
        model=model,
        choices=[schemas.ChunkChoice(delta=delta, finish_reason=finish_reason)],
    )
