"""Where replies come from: a model server, the embedded local model, or the echo demo."""

from __future__ import annotations

import logging

from webchat.chat import ChatFunction
from webchat.settings import Settings

log = logging.getLogger("webchat")


def build_chat_function(settings: Settings) -> tuple[ChatFunction, str]:
    """The chat function the settings ask for, and how to name its server in error messages."""
    from webchat.backends.inference import Generation, InferenceChat, make_client

    generation = Generation(
        system_prompt=settings.system_prompt,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
    )
    backend = settings.chosen_backend
    if backend == "echo":
        from webchat.backends.echo import EchoChat

        return EchoChat(), "the echo model"
    if backend == "inference":
        client = make_client(
            model=settings.model,
            base_url=settings.base_url,
            token=settings.hf_token,
            timeout=settings.request_timeout,
        )
        name = f"The model server ({settings.base_url or settings.model})"
        return InferenceChat(
            client, model=settings.model if settings.base_url else None, generation=generation
        ), name
    from webchat.backends.local import LlamaServer, ensure_default_model

    gguf = settings.gguf or ensure_default_model(settings.models_dir)
    log.info("starting the local model %s", gguf.name)
    server = LlamaServer(
        gguf,
        threads=settings.local_threads,
        ctx=settings.local_context,
        log_path=settings.data_dir / "llama-server.log",
    )
    base_url = server.start()
    client = make_client(model=None, base_url=base_url, token=None, timeout=settings.request_timeout)
    chat = InferenceChat(client, generation=generation)
    chat.server = server  # type: ignore[attr-defined]  # keeps the child alive as long as the app
    return chat, f"The local model ({gguf.name})"
