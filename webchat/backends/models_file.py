"""The models file (``--models FILE``, ``WEBCHAT_MODELS``): every model a conversation can pick,
and presets shared by every user. TOML::

    default = "Local llama"            # optional: a new chat's model (else the first)

    [[models]]
    name = "Local llama"               # shown in the page; unique
    base_url = "http://127.0.0.1:8080/v1"   # an OpenAI-compatible server (llama.cpp, vLLM, TGI…)
    model = "llama-3.1-8b"             # sent as `model` (optional with a base_url)
    api_key_env = "LLAMA_KEY"          # the variable holding its API key (optional)
    images = false                     # it cannot read images: they are described by name
    context_length = 8192
    parameters = { temperature = 0.7, top_p = 0.9, max_tokens = 1024, system_prompt = "" }

    [[models]]
    name = "Llama 3.1 70B (HF)"
    model = "meta-llama/Llama-3.1-70B-Instruct"   # a Hugging Face model id, without base_url
    provider = "together"              # an Inference Provider (optional)
    api_key_env = "HF_TOKEN"

    [[models]]
    name = "SmolLM2 (on this machine)"
    local = true                       # the embedded llama.cpp model (or gguf = "/path/x.gguf")

    [[presets]]
    name = "Translator"
    model = "Local llama"
    system_prompt = "Translate what I write into French."
    temperature = 0.2

    [mcpServers.calculator]            # MCP servers, as in --mcp-config's JSON
    command = "python"
    args = ["calc.py"]
    approve = "ask"

An error stops the start with the file, the line and what is wrong; a key variable that is not
set names the variable. Keys are read from the environment, never written anywhere.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARAMETERS = ("system_prompt", "temperature", "top_p", "max_tokens")
MODEL_KEYS = frozenset(
    {
        "name",
        "base_url",
        "model",
        "provider",
        "api_key_env",
        "images",
        "context_length",
        "parameters",
        "local",
        "gguf",
    }
)
PRESET_KEYS = frozenset({"name", "model", *PARAMETERS})


class ModelsFileError(SystemExit):
    """The models file cannot be used; the text names the file, the line and what is wrong."""


@dataclass(frozen=True)
class ModelSpec:
    """One model a conversation can pick. ``parameters``: its defaults (system prompt, sampling)."""

    name: str
    base_url: str | None = None
    model: str | None = None
    provider: str | None = None
    api_key: str | None = field(default=None, repr=False)
    images: bool = True
    context_length: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    local: bool = False
    gguf: Path | None = None


@dataclass(frozen=True)
class Preset:
    """A saved choice: a model plus its settings (``settings``: system prompt, sampling)."""

    name: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelsFile:
    models: tuple[ModelSpec, ...]
    presets: tuple[Preset, ...] = ()
    default: str = ""
    # MCP servers, as --mcp-config's ``mcpServers`` ([mcpServers.<name>] tables; webchat.backends.tools)
    mcp_servers: dict[str, Any] = field(default_factory=dict)


def read_models_file(path: Path, env: dict[str, str] | None = None) -> ModelsFile:
    """The models and presets of ``path``; ModelsFileError says what is wrong and where."""
    env = dict(os.environ) if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ModelsFileError(f"The models file {path} cannot be read: {error.strerror or error}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ModelsFileError(f"{path}: not valid TOML: {error}.") from None
    where = _Where(path, text)
    unknown = sorted(set(data) - {"models", "presets", "default", "mcpServers"})
    if unknown:
        raise ModelsFileError(
            f"{where.key(None, 0, unknown[0])}: unknown key {unknown[0]!r} (models, presets, default)."
        )
    entries = data.get("models")
    if not isinstance(entries, list) or not entries:
        raise ModelsFileError(f"{path}: no models: add at least one [[models]] table with a name.")
    models = [_model(entry, index, where, env) for index, entry in enumerate(entries)]
    names = [m.name for m in models]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise ModelsFileError(f"{where.key('models', index, 'name')}: the name {name!r} is used twice.")
    default = data.get("default", "")
    if default and default not in names:
        at = where.key(None, 0, "default")
        raise ModelsFileError(f"{at}: default {default!r} is not a model's name ({', '.join(names)}).")
    presets = [_preset(entry, index, where, names) for index, entry in enumerate(data.get("presets", []))]
    return ModelsFile(tuple(models), tuple(presets), default or names[0], data.get("mcpServers", {}))


def _model(entry: Any, index: int, where: _Where, env: dict[str, str]) -> ModelSpec:
    at = where.table("models", index)
    if not isinstance(entry, dict):
        raise ModelsFileError(f"{at}: each model is a [[models]] table.")
    unknown = sorted(set(entry) - MODEL_KEYS)
    if unknown:
        known = ", ".join(sorted(MODEL_KEYS))
        raise ModelsFileError(
            f"{where.key('models', index, unknown[0])}: unknown key {unknown[0]!r} ({known})."
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ModelsFileError(f'{at}: every model needs a name (name = "…"), shown in the page.')
    local, gguf = bool(entry.get("local", False)), entry.get("gguf")
    if not (entry.get("base_url") or entry.get("model") or local or gguf):
        raise ModelsFileError(
            f"{at}: model {name!r} needs base_url (a server), model (a Hugging Face model id), "
            "or local = true."
        )
    for key, kind in (
        ("base_url", str),
        ("model", str),
        ("provider", str),
        ("api_key_env", str),
        ("gguf", str),
    ):
        if key in entry and not isinstance(entry[key], kind):
            raise ModelsFileError(f"{where.key('models', index, key)}: {key} must be a string.")
    if "images" in entry and not isinstance(entry["images"], bool):
        raise ModelsFileError(f"{where.key('models', index, 'images')}: images must be true or false.")
    context = entry.get("context_length")
    if context is not None and (not isinstance(context, int) or context <= 0):
        raise ModelsFileError(
            f"{where.key('models', index, 'context_length')}: context_length must be a whole number above 0."
        )
    parameters = _parameters(entry.get("parameters", {}), where.key("models", index, "parameters"))
    key = None
    variable = entry.get("api_key_env")
    if variable:
        key = env.get(variable)
        if not key:
            raise ModelsFileError(
                f"{where.key('models', index, 'api_key_env')}: model {name!r} reads its API key from "
                f"${variable}, which is not set."
            )
    return ModelSpec(
        name=name.strip(),
        base_url=entry.get("base_url"),
        model=entry.get("model"),
        provider=entry.get("provider"),
        api_key=key,
        images=entry.get("images", True),
        context_length=context,
        parameters=parameters,
        local=local,
        gguf=Path(gguf).expanduser() if gguf else None,
    )


def _preset(entry: Any, index: int, where: _Where, names: list[str]) -> Preset:
    at = where.table("presets", index)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise ModelsFileError(f"{at}: every preset needs a name.")
    unknown = sorted(set(entry) - PRESET_KEYS)
    if unknown:
        known = ", ".join(sorted(PRESET_KEYS))
        raise ModelsFileError(
            f"{where.key('presets', index, unknown[0])}: unknown key {unknown[0]!r} ({known})."
        )
    model = entry.get("model", names[0])
    if model not in names:
        at = where.key("presets", index, "model")
        raise ModelsFileError(f"{at}: model {model!r} is not a model's name ({', '.join(names)}).")
    settings = _parameters({k: v for k, v in entry.items() if k in PARAMETERS}, at)
    return Preset(entry["name"].strip(), model, settings)


def _parameters(raw: Any, at: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ModelsFileError(f"{at}: parameters is a table (temperature, top_p, max_tokens, system_prompt).")
    unknown = sorted(set(raw) - set(PARAMETERS))
    if unknown:
        raise ModelsFileError(f"{at}: unknown parameter {unknown[0]!r} ({', '.join(PARAMETERS)}).")
    try:
        return check_settings(raw)
    except ValueError as error:
        raise ModelsFileError(f"{at}: {error}.") from None


def check_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Generation settings as a model takes them; ValueError says which is out of range."""
    result: dict[str, Any] = {}
    if "system_prompt" in raw:
        if not isinstance(raw["system_prompt"], str):
            raise ValueError("system_prompt must be text")
        result["system_prompt"] = raw["system_prompt"]
    for key, low, high in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0)):
        if raw.get(key) is not None:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ValueError(f"{key} must be a number from {low:g} to {high:g}")
            result[key] = float(value)
    if raw.get("max_tokens") is not None:
        value = raw["max_tokens"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("max_tokens must be a whole number above 0")
        result["max_tokens"] = value
    return result


class _Where:
    """Lines of a TOML file's tables and keys, for errors that point at them."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def _start(self, table: str | None, index: int) -> int:
        if table is None:
            return 0
        header = re.compile(rf"^\s*\[\[\s*{table}\s*\]\]")
        found = [n for n, line in enumerate(self.lines) if header.match(line)]
        return found[index] if index < len(found) else 0

    def table(self, table: str, index: int) -> str:
        return f"{self.path}, line {self._start(table, index) + 1}"

    def key(self, table: str | None, index: int, key: str) -> str:
        start = self._start(table, index)
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*[=.]|[{{,]\s*{re.escape(key)}\s*=")
        for n in range(start, len(self.lines)):
            if n > start and table is not None and self.lines[n].lstrip().startswith("[["):
                break
            if pattern.search(self.lines[n]):
                return f"{self.path}, line {n + 1}"
        return f"{self.path}, line {start + 1}"
