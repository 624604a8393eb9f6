"""The model picker and the settings panel of the built-in models: what a form posts (checked),
and what the page draws (the models with their state, the conversation's settings over the
chosen model's defaults, and the presets to start from).

A Python program's page has neither: its settings are its own ``additional_inputs``, drawn in the
same panel design (partials/additional_inputs.html and partials/model_settings.html share it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from webchat.backends.compare import MAX_COMPARED
from webchat.backends.models import Models, Status
from webchat.backends.models_file import PARAMETERS, check_settings
from webchat.errors import InputError, too_long
from webchat.store.presets import StoredPreset
from webchat.web.services import services

MAX_TOKENS_LIMIT = 1_000_000
LABELS = {"temperature": "Temperature", "top_p": "Top-p", "max_tokens": "Max tokens"}


@dataclass(frozen=True)
class Choice:
    """A model in the picker: its name, whether its server answers, whether it reads images."""

    name: str
    status: Status
    images: bool

    @property
    def label(self) -> str:
        notes = [
            note
            for note, on in (("not answering", self.status == "down"), ("no images", not self.images))
            if on
        ]
        return f"{self.name} ({', '.join(notes)})" if notes else self.name


@dataclass(frozen=True)
class Panel:
    """What the picker and the settings panel show for one conversation (or a new chat)."""

    choices: list[Choice]
    chosen: Choice
    values: dict[str, Any]  # the conversation's own settings (empty: the model's defaults)
    defaults: dict[str, Any]  # the chosen model's
    presets: list[StoredPreset] = field(default_factory=list)
    tools: list[tuple[str, bool]] = field(default_factory=list)  # MCP servers, and whether on here

    @property
    def several(self) -> bool:
        return len(self.choices) > 1


def models() -> Models | None:
    """The built-in models (None on a Python program's page: its chat function answers)."""
    app = services()
    return app.models if app.page.gradio is None else None


def panel(conversation_id: str | None, owner: str, unsaved: Mapping[str, Any] | None = None) -> Panel | None:
    """What the picker and panel show: the conversation's settings (or ``unsaved`` ones, a new
    chat's before its first message)."""
    found = models()
    if found is None:
        return None
    takes_settings = any(m.backend.generation is not None for m in found.models.values())
    if not (takes_settings or found.several or services().toolbox is not None):
        return None  # the echo demo: nothing to pick and no settings it would use
    settings = dict(unsaved or {})
    if conversation_id and unsaved is None:
        settings = services().store.conversation_settings(conversation_id)
    chosen = found.chosen(settings)
    choices = [Choice(m.name, found.health.status(m.name), m.spec.images) for m in found.models.values()]
    return Panel(
        choices=choices,
        chosen=next(c for c in choices if c.name == chosen.name),
        values={k: v for k, v in settings.items() if k in PARAMETERS},
        defaults=chosen.defaults,
        presets=presets_for(owner),
        tools=_tool_servers(settings),
    )


def _tool_servers(settings: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The MCP servers whose tools the models may call, each on unless the conversation turned it
    off (``tools``: the names on)."""
    toolbox = services().toolbox
    if toolbox is None:
        return []
    on = settings.get("tools")
    return [(name, on is None or name in on) for name in toolbox.names]


def presets_for(owner: str) -> list[StoredPreset]:
    """The models file's shared presets, then the owner's own."""
    found = models()
    if found is None:
        return []
    shared = [
        StoredPreset(f"shared-{i}", "", p.name, {"model": p.model, **p.settings}, shared=True)
        for i, p in enumerate(found.presets)
    ]
    return shared + services().presets.mine(owner)


def posted(form: Mapping[str, Any]) -> dict[str, Any] | None:
    """The model and settings a form posts (the picker and panel: ``model``, ``system_prompt``,
    ``temperature``, ``top_p``, ``max_tokens``; empty means the model's default), checked; None
    when it posts none of them. InputError says which is wrong."""
    found = models()
    if found is None or not any(key in form for key in ("model", "tools_present", *PARAMETERS)):
        return None
    settings: dict[str, Any] = {}
    toolbox = services().toolbox
    if toolbox is not None and "tools_present" in form:  # the panel's Tools boxes (ticked: on)
        getlist = getattr(form, "getlist", None)
        ticked = getlist("tools") if getlist else form.get("tools", [])
        settings["tools"] = [name for name in toolbox.names if name in ticked]
    name = str(form.get("model", "") or "")
    if name:
        if found.get(name) is None:
            raise InputError(
                f"There is no model named {name!r} here. Choose one of: {', '.join(found.names)}."
            )
        settings["model"] = name
    prompt = str(form.get("system_prompt", "") or "")
    if prompt.strip():
        error = too_long(prompt, services().settings.max_message_chars, "The system prompt")
        if error is not None:
            raise InputError(error.message)
        settings["system_prompt"] = prompt
    raw: dict[str, Any] = {}
    for key, kind in (("temperature", float), ("top_p", float), ("max_tokens", int)):
        text = str(form.get(key, "") or "").strip()
        if not text:
            continue
        label = LABELS[key]
        try:
            value = kind(text)
        except ValueError:
            kind_word = "a whole number" if kind is int else "a number"
            raise InputError(f"{label} must be {kind_word}, not {text!r}.") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{label} must be a number, not {text!r}.")
        raw[key] = value
    try:
        settings.update(check_settings(raw))
    except ValueError as error:
        words = str(error)
        for key, label in LABELS.items():
            words = words.replace(key, label)
        raise InputError(words + ".") from None
    if settings.get("max_tokens", 0) > MAX_TOKENS_LIMIT:
        raise InputError(f"Max tokens must be at most {MAX_TOKENS_LIMIT:,}.")
    return settings


def compared(form: Any) -> tuple[Any, ...]:
    """The chat function's extra value for a message the form also sends to other models
    (``compare``: their names, at most two besides the one chosen): ``({"compare": names},)``,
    or () when it compares nothing. InputError names an unknown model, or too many."""
    found = models()
    getlist = getattr(form, "getlist", None)
    names = [n for n in (getlist("compare") if getlist else []) if n]
    if found is None or not names:
        return ()
    unknown = [n for n in names if found.get(n) is None]
    if unknown:
        raise InputError(f"There is no model named {unknown[0]!r} here to compare with.")
    if len(set(names)) > MAX_COMPARED - 1:
        raise InputError(f"Compare at most {MAX_COMPARED} models at once: untick some.")
    return ({"compare": list(dict.fromkeys(names))},)
