"""Gradio's ``gr.load_chat``: a ChatInterface over an OpenAI-compatible model server, and
``gr.external.format_conversation``, which programs use to call such a server themselves.

That is webchat's ``--base-url`` mode, so it is built from the same backend: the model's reply
streams token by token whatever ``streaming`` says, and the server's errors read as they do there.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from webchat.backends import build_backend
from webchat.backends.inference import as_sent, to_openai_messages
from webchat.gradio.interface import ChatInterface
from webchat.settings import Settings


def format_conversation(history: list[dict[str, Any]], new_message: Any) -> list[dict[str, Any]]:
    """Gradio's history (messages format) and the new message (text, or ``{"text", "files"}``)
    as chat-completions ``messages``, the way webchat's own models get them: images as
    ``image_url`` parts with data URLs, other files described by name and type, thoughts left
    out. Gradio also pastes the text of text files in; here they are described."""
    return as_sent(to_openai_messages(history, new_message, images=True))


def load_chat(
    base_url: str,
    model: str,
    token: str | None = None,
    *,
    file_types: Any = None,
    system_message: str | None = None,
    streaming: bool = True,
    **kwargs: Any,
) -> ChatInterface:
    """A chat page for ``model`` at ``base_url`` (``.../v1``), with ``token`` as its API key.

    ``file_types`` makes the page take files (images go to the model as its messages' parts);
    ``kwargs`` go to ChatInterface (title, examples...).
    """
    settings = dataclasses.replace(
        Settings.load(),
        backend="inference",
        base_url=base_url,
        model=model,
        hf_token=token,
        system_prompt=system_message or "",
    )
    backend = build_backend(settings)
    return ChatInterface(backend.chat, multimodal=bool(file_types), **kwargs)
