"""All configuration in one place: CLI flags, then ``WEBCHAT_*`` environment variables, then defaults."""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

Backend = Literal["auto", "local", "inference", "echo"]
ENV_PREFIX = "WEBCHAT_"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "webchat"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Which model answers: --base-url or --model mean a model server, --gguf a local file; with
    # none of them the embedded SmolLM2 runs ("auto"). "echo" needs nothing at all.
    backend: Backend = "auto"
    model: str | None = None
    base_url: str | None = None
    gguf: Path | None = None
    hf_token: str | None = field(default=None, repr=False)
    system_prompt: str = ""
    max_tokens: int = 1024
    temperature: float | None = None
    top_p: float | None = None
    request_timeout: float = 120.0
    title: str = "webchat"
    description: str = ""
    placeholder: str = "Message"
    data_dir: Path = field(default_factory=default_data_dir)
    secret_key: str | None = field(default=None, repr=False)
    max_message_chars: int = 32_000
    # Websocket frames from the browser are tiny; a cap stops a client from sending huge ones.
    max_socket_message: int = 64 * 1024
    socket_ping_seconds: float = 25.0
    local_threads: int | None = None
    local_context: int = 4096
    # Behind a reverse proxy: how many proxies in front to trust for X-Forwarded-For/-Proto/-Prefix
    # (0: none, headers are ignored). X-Forwarded-Host is never trusted: the proxy passes Host.
    proxy_hops: int = 0
    # The origin people open, e.g. https://chat.example.com; websockets from it are accepted even
    # when a proxy rewrites Host. Without it a socket must come from the host it was sent to.
    public_origin: str | None = None
    # gunicorn workers for --production; default 1, or one per core once the hub is shared (Redis).
    workers: int | None = None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "webchat.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def chosen_backend(self) -> Backend:
        if self.backend != "auto":
            return self.backend
        if self.gguf:
            return "local"
        if self.base_url or self.model:
            return "inference"
        return "local"

    @classmethod
    def load(cls, cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from CLI values (None means not given), then the environment, then defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = parse_value(f.name, raw, hints[f.name])
        if "hf_token" not in values and env.get("HF_TOKEN"):
            values["hf_token"] = env["HF_TOKEN"]
        for name, value in (cli or {}).items():
            if value is not None:
                values[name] = value
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def parse_value(name: str, raw: str, hint: Any) -> Any:
    """Parse one environment value by the field's type; a bad value names the variable."""
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] if _is_union(hint) else [hint]
    kind = kinds[0]
    try:
        if kind is bool:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if kind in (int, float):
            return kind(raw)
        if kind is Path:
            return Path(raw).expanduser()
        if typing.get_origin(kind) is Literal and raw not in typing.get_args(kind):
            raise ValueError(f"expected one of {', '.join(typing.get_args(kind))}")
        return raw
    except ValueError as error:
        raise SystemExit(f"{ENV_PREFIX}{name.upper()}={raw!r} is not valid: {error}") from None


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)
