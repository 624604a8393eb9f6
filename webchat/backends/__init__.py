"""Where replies come from: a model server, the embedded local model, or the echo demo.

:func:`build_backend` turns the settings into a :class:`Backend`, the one record the app holds of
its model, whatever kind it is; a Python program's chat function is wrapped in one too
(:meth:`Backend.of_function`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webchat.backends.echo import EchoChat
from webchat.backends.local import LlamaServer, ensure_default_model
from webchat.chat import ChatFunction
from webchat.settings import Settings

if TYPE_CHECKING:
    from webchat.backends.inference import Generation
    from webchat.backends.tools import Toolbox

log = logging.getLogger("webchat")


@dataclass(frozen=True)
class Backend:
    """What answers: its chat function, how error messages name its server, the model id programs
    see (``GET /v1/models``), and, for a model webchat drives itself, its generation settings and
    how to make the same chat function with others (an API call's sampling)."""

    chat: ChatFunction
    server_name: str
    model_id: str
    generation: Generation | None = None
    with_generation: Callable[[Generation], ChatFunction] | None = None
    # The embedded llama.cpp server, kept (and stopped) with the app.
    process: LlamaServer | None = None
    # What answers when its server is up (webchat.backends.models.Health); None: not checked.
    health_url: str | None = None

    @classmethod
    def of_function(cls, chat: ChatFunction, model_id: str) -> Backend:
        """A Python program's chat function (it takes no sampling settings)."""
        return cls(chat, "The chat function", model_id or "webchat")

    @classmethod
    def of_model(
        cls,
        client: Any,
        *,
        model: str | None,
        generation: Generation,
        images: bool = True,
        toolbox: Toolbox | None = None,
        context_length: int | None = None,
        **kwargs: Any,
    ) -> Backend:
        """A model server webchat drives through ``client`` (an InferenceClient); ``images``:
        whether it reads images (else they are described to it by name)."""
        from webchat.backends.inference import InferenceChat  # see build_backend

        model_id = kwargs.get("model_id")

        def again(changed: Generation) -> ChatFunction:
            return InferenceChat(
                client,
                model=model,
                generation=changed,
                model_id=model_id,
                images=images,
                toolbox=toolbox,
                context_length=context_length,
            )

        return cls(again(generation), generation=generation, with_generation=again, **kwargs)

    def tuned(self, changes: dict[str, Any]) -> ChatFunction:
        """The chat function with some generation settings changed (unchanged for a program's)."""
        if self.generation is None or self.with_generation is None:
            return self.chat
        return self.with_generation(dataclasses.replace(self.generation, **changes))


def build_backend(
    settings: Settings,
    *,
    images: bool = True,
    toolbox: Toolbox | None = None,
    context_length: int | None = None,
) -> Backend:
    """The backend the settings ask for (the local model is started here); ``images``: whether
    the model reads images."""
    # Imported here, not above: a Python program's app never loads huggingface_hub (0.35 s).
    from webchat.backends.inference import Generation, make_client

    generation = Generation(
        system_prompt=settings.system_prompt,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
    )
    backend = settings.chosen_backend
    if backend == "echo":
        return Backend(EchoChat(), "the echo model", "echo")
    if backend == "inference":
        client = make_client(
            model=settings.model,
            base_url=settings.base_url,
            token=settings.hf_token,
            timeout=settings.request_timeout,
            provider=settings.provider,
        )
        model = settings.model if settings.base_url else None
        return Backend.of_model(
            client,
            model=model,
            generation=generation,
            images=images,
            toolbox=toolbox,
            context_length=context_length,
            server_name=f"The model server ({settings.base_url or settings.model})",
            model_id=settings.model or "default",
            health_url=settings.base_url.rstrip("/") + "/models" if settings.base_url else None,
        )
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
    return Backend.of_model(
        client,
        model=None,
        generation=generation,
        images=images,
        toolbox=toolbox,
        context_length=context_length or settings.local_context,  # the context it was started with
        server_name=f"The local model ({gguf.name})",
        model_id=Path(server.gguf).stem,
        process=server,
        health_url=base_url.rstrip("/") + "/models",
    )
