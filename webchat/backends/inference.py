"""Chat through ``huggingface_hub.InferenceClient``: the HF Inference API, TGI, llama.cpp's
server, or any OpenAI-compatible chat-completions server."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from huggingface_hub import InferenceClient


@dataclass(frozen=True)
class Generation:
    """Sampling settings sent with every request."""

    system_prompt: str = ""
    max_tokens: int = 1024
    temperature: float | None = None
    top_p: float | None = None


def make_client(
    *, model: str | None, base_url: str | None, token: str | None, timeout: float
) -> InferenceClient:
    # InferenceClient refuses model and base_url together; with a base URL the model name goes
    # into each request instead (OpenAI-compatible servers that host several models need it).
    if base_url:
        return InferenceClient(base_url=base_url, token=token, timeout=timeout)
    return InferenceClient(model=model, token=token, timeout=timeout)


class InferenceChat:
    """A chat function (``fn(message, history)``) that streams from a model server."""

    def __init__(
        self, client: InferenceClient, *, model: str | None = None, generation: Generation = Generation()
    ) -> None:
        self.client = client  # held for the whole stream: a collected client closes it mid-way
        self.model = model
        self.generation = generation

    def __call__(self, message: Any, history: list[dict[str, Any]]) -> Iterator[str]:
        request = to_openai_messages(history, message, self.generation.system_prompt)
        stream = self.client.chat_completion(
            request,
            model=self.model,
            stream=True,
            max_tokens=self.generation.max_tokens,
            temperature=self.generation.temperature,
            top_p=self.generation.top_p,
        )
        text = ""
        try:
            for chunk in stream:
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    text += piece
                    yield text
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()  # frees the server's slot at once when the user stops the reply
        if not text:
            yield ""


def to_openai_messages(
    history: list[dict[str, Any]], message: Any, system_prompt: str = ""
) -> list[dict[str, Any]]:
    """The chat-completions ``messages`` for a history plus the new user message.

    Thought blocks (messages with a ``metadata.title``) are the assistant's working, not its
    answer, so they are left out, as are empty messages that only carried an error.
    """
    result: list[dict[str, Any]] = []
    if system_prompt:
        result.append({"role": "system", "content": system_prompt})
    for item in history:
        if (item.get("metadata") or {}).get("title"):
            continue
        text = content_text(item.get("content"))
        if text:
            result.append({"role": item["role"], "content": text})
    if isinstance(message, Mapping):
        for path in message.get("files") or []:
            result.append({"role": "user", "content": content_text({"path": path})})
        text = message.get("text") or ""
    else:
        text = str(message)
    if text:
        result.append({"role": "user", "content": text})
    return result


def content_text(content: Any) -> str:
    """Text for the model: the text itself, or a file described by name and type."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        value = content.get("value", content)
        files = value if isinstance(value, list) else [value]
        return " ".join(_describe_file(f) for f in files if isinstance(f, Mapping))
    return ""


def _describe_file(file: Mapping[str, Any]) -> str:
    name = file.get("orig_name") or str(file.get("path", "")).rsplit("/", 1)[-1]
    kind = file.get("mime_type") or "unknown type"
    return f"[attached file: {name} ({kind})]"
