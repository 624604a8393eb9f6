"""The models a conversation can pick, and the chat function that answers with the chosen one.

:func:`build_models` makes one :class:`Backend` per model of the models file
(webchat.backends.models_file), or, without one, the single model the flags ask for (``--base-url``,
``--model``, ``--gguf``, or the embedded local model): the flags are a one-model file.

A conversation remembers its choice (the model's name and any settings changed from its
defaults: system prompt, temperature, top-p, max tokens). :class:`RoutedChat` is the chat function
the turn runner calls: it reads the choice of the turn's conversation when the turn starts (so a
Retry after choosing another model uses that one), notes in the turn's record which model wrote
the reply, and streams from that model.

:class:`Health` says whether a model's server answers: ``GET <base_url>/models`` with a short
timeout, at most every 30 s per model, in the background, so drawing a page never waits on a
server that is down.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from webchat.backends import Backend, build_backend
from webchat.backends.compare import MAX_COMPARED, compare
from webchat.backends.models_file import PARAMETERS, ModelSpec, Preset, read_models_file
from webchat.backends.tools import Toolbox, read_mcp_config, servers_of
from webchat.settings import Settings
from webchat.turn_record import current as current_record

log = logging.getLogger("webchat")

HEALTH_TTL_SECONDS = 30.0
HEALTH_TIMEOUT_SECONDS = 2.0
Status = Literal["up", "down", "unknown"]


@dataclass(frozen=True)
class Model:
    """A model a conversation can pick: how the page names it, what it takes, and its backend."""

    spec: ModelSpec
    backend: Backend

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def defaults(self) -> dict[str, Any]:
        """Its generation settings when a conversation changes none (shown in the settings panel)."""
        generation = self.backend.generation
        if generation is None:
            return {}
        return {key: getattr(generation, key) for key in PARAMETERS}

    def chat_with(self, changes: Mapping[str, Any]) -> Any:
        """Its chat function with a conversation's settings applied over its defaults (and the
        tool servers it turned on)."""
        changed = {k: v for k, v in changes.items() if k in PARAMETERS and v is not None}
        if isinstance(changes.get("tools"), list) and self.backend.generation is not None:
            changed["tool_servers"] = tuple(str(name) for name in changes["tools"])
        return self.backend.tuned(changed) if changed else self.backend.chat


@dataclass
class Health:
    """Whether each model's server answers, checked in the background and cached."""

    urls: dict[str, str]  # model name -> the URL that answers when its server is up
    ttl: float = HEALTH_TTL_SECONDS
    _known: dict[str, tuple[Status, float]] = field(default_factory=dict)
    _checking: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, name: str) -> Status:
        """The last known status ("unknown" until a first check ends; a stale one starts a new check)."""
        url = self.urls.get(name)
        if url is None:
            return "unknown"
        with self._lock:
            status, checked = self._known.get(name, ("unknown", 0.0))
            stale = time.monotonic() - checked > self.ttl
            if stale and name not in self._checking:
                self._checking.add(name)
                threading.Thread(target=self._check, args=(name, url), daemon=True).start()
        return status

    def check_now(self, name: str) -> Status:
        """Check at once (at start, and in tests), waiting for the answer."""
        url = self.urls.get(name)
        if url is None:
            return "unknown"
        self._check(name, url)
        return self._known[name][0]

    def _check(self, name: str, url: str) -> None:
        status: Status = "up"
        try:
            with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_SECONDS):
                pass
        except urllib.error.HTTPError as error:
            status = "up" if error.code < 500 else "down"  # it answered (a 401 is a server that is up)
        except (OSError, ValueError):
            status = "down"
        with self._lock:
            self._known[name] = (status, time.monotonic())
            self._checking.discard(name)


class Models:
    """Every model a conversation can pick, by name, in the models file's order; presets shared by
    every user (the models file's)."""

    def __init__(
        self,
        models: list[Model],
        default: str,
        presets: tuple[Preset, ...] = (),
        *,
        toolbox: Toolbox | None = None,
    ) -> None:
        self.toolbox = toolbox  # the MCP servers their tools come from (webchat.backends.tools)
        self.models = {model.name: model for model in models}
        self.default = self.models[default]
        self.presets = presets
        self.health = Health(
            {m.name: m.backend.health_url for m in models if m.backend.health_url is not None}
        )
        self.several = len(models) > 1

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def get(self, name: str | None) -> Model | None:
        return self.models.get(name or "")

    def chosen(self, settings: Mapping[str, Any]) -> Model:
        """The model a conversation's settings name (the default when none, or one since removed)."""
        return self.get(settings.get("model")) or self.default

    def for_api(self, requested: str | None) -> Model | None:
        """The model a completion request names, by name or by its model id (None: unknown). With one
        model, any name is that model (clients often send a fixed one)."""
        if not self.several or not requested:
            return self.default if not requested or not self.several else None
        for model in self.models.values():
            if requested in (model.name, model.spec.model, model.backend.model_id):
                return model
        return None

    def stop(self) -> None:
        for model in self.models.values():
            if model.backend.process is not None:
                model.backend.process.stop()


class RoutedChat:
    """The chat function of the built-in models: each turn is answered by the model its
    conversation chose, with the conversation's settings (``settings_of``: conversation id ->
    its stored settings)."""

    def __init__(self, models: Models, settings_of: Callable[[str], Mapping[str, Any]]) -> None:
        self.models = models
        self.settings_of = settings_of

    def __call__(self, message: Any, history: list[dict[str, Any]], *extra: Any) -> Iterator[Any]:
        record = current_record()
        settings = self.settings_of(record.conversation_id) if record and record.conversation_id else {}
        model = self.models.chosen(settings)
        others = compared(extra)
        if others:  # one message, answered by several models side by side (webchat.backends.compare)
            names = [model.name, *(n for n in others if n != model.name)][:MAX_COMPARED]
            chosen = [self.models.get(n) or model for n in names]
            answers = [(m.name, m.chat_with(settings), m.backend.server_name) for m in chosen]
            yield from compare(answers, message, history)
            return
        if record is not None:  # the reply says which model wrote it; an error names its server
            record.model_name = model.name if self.models.several else None
            record.server = model.backend.server_name
        yield from model.chat_with(settings)(message, history)


def compared(extra: tuple[Any, ...]) -> list[str]:
    """The models a turn's message also goes to (its extra value ``{"compare": [names]}``)."""
    first = extra[0] if extra else None
    names = first.get("compare") if isinstance(first, Mapping) else None
    return [str(n) for n in names] if isinstance(names, list) else []


def build_models(settings: Settings) -> Models:
    """The models the settings ask for: the models file's, or the one the flags name; each may
    call the tools of the MCP servers of ``--mcp-config`` and of the models file."""
    specs = read_mcp_config(settings.mcp_config) if settings.mcp_config else []
    if settings.models_file is None:
        toolbox = Toolbox(specs) if specs else None
        backend = build_backend(settings, toolbox=toolbox)
        spec = ModelSpec(name=backend.model_id, images=True)
        return Models([Model(spec, backend)], spec.name, toolbox=toolbox)
    models_file = read_models_file(settings.models_file)
    specs += servers_of(settings.models_file, models_file.mcp_servers, taken={s.name for s in specs})
    toolbox = Toolbox(specs) if specs else None
    built: list[Model] = []
    try:
        for spec in models_file.models:
            built.append(Model(spec, _backend_of(spec, settings, toolbox)))
    except BaseException:  # a model that cannot start stops the start: the others stop too
        for model in built:
            if model.backend.process is not None:
                model.backend.process.stop()
        raise
    return Models(built, models_file.default, models_file.presets, toolbox=toolbox)


def _backend_of(spec: ModelSpec, settings: Settings, toolbox: Toolbox | None) -> Backend:
    """A model of the models file as the flags would make it (its own server, key and defaults)."""
    parameters = spec.parameters
    one = settings.with_changes(
        backend="local" if spec.local or spec.gguf else "inference",
        base_url=spec.base_url,
        model=spec.model,
        gguf=spec.gguf,
        hf_token=spec.api_key,
        provider=spec.provider,
        system_prompt=parameters.get("system_prompt", settings.system_prompt),
        max_tokens=parameters.get("max_tokens", settings.max_tokens),
        temperature=parameters.get("temperature", settings.temperature),
        top_p=parameters.get("top_p", settings.top_p),
    )
    return build_backend(one, images=spec.images, toolbox=toolbox, context_length=spec.context_length)
