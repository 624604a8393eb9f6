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
    # A Hugging Face Inference Provider for --model (e.g. "together"); the default routes it.
    provider: str | None = None
    # A TOML file of models a conversation can pick (webchat.backends.models_file); it replaces
    # --base-url/--model/--gguf, which are a one-model file.
    models_file: Path | None = None
    # MCP servers whose tools the built-in models may call (webchat.backends.tools): JSON,
    # {"mcpServers": {name: {command, args, env} | {url, headers}}}.
    mcp_config: Path | None = None
    # Serve the chat as an MCP tool at /mcp (webchat.web.api.mcp; Gradio's launch(mcp_server=True)).
    mcp_server: bool = False
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
    # Per session (or user): messages sent per minute, and replies being written at once.
    messages_per_minute: int = 20
    max_running_turns: int = 3
    # Websockets one session may hold open at once (each tab streaming a reply holds one).
    max_sockets_per_owner: int = 16
    # The same limits per client address (behind a proxy, the one --proxy-hops trusts; IPv6 by its
    # /64), whatever the session: dropping the cookie must not reset them. Higher than the
    # per-session ones, since several people may share an address. 0 turns one off.
    client_messages_per_minute: int = 60
    client_max_running_turns: int = 10
    client_max_sockets: int = 64
    client_upload_bytes_per_hour: int = 1024 * 1024 * 1024
    # Websocket frames from the browser are tiny; a cap stops a client from sending huge ones.
    max_socket_message: int = 64 * 1024
    socket_ping_seconds: float = 25.0
    # Uploads: bytes per file, files per message, bytes one session may keep, and which kinds are
    # accepted ("*", or a comma list of "image", "audio/*", "application/pdf", ".csv"...; matched
    # against the type sniffed from the bytes).
    max_file_size: int = 25 * 1024 * 1024
    # A chat function's media given as an http(s) URL is downloaded from public addresses only;
    # these networks (comma list, e.g. "10.1.2.0/24") are allowed too, for a media server nearby.
    fetch_allow_networks: tuple[str, ...] = ()
    max_files: int = 10
    max_session_files_size: int = 512 * 1024 * 1024
    allowed_file_types: str = "*"
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
    # Sign-in (off when none is set): "user:password" entries, a file of "user:hash" lines, and/or a
    # header set by an authenticating proxy, trusted only from the trusted_proxies addresses.
    auth: tuple[str, ...] = field(default=(), repr=False)
    auth_file: Path | None = None
    trusted_user_header: str | None = None
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # Failed sign-ins allowed per user name and per client address within the window.
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    login_window_seconds: float = 900.0
    # Several workers and hosts: conversations in PostgreSQL (SQLite in data_dir by default), and
    # the live state of replies in Redis, so any worker can stream, stop or recover any turn.
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    # A runner process that has not renewed its lease for this long is taken for dead, and its
    # running replies are marked interrupted (only with a shared hub: --redis-url).
    runner_lease_seconds: float = 15.0
    # The API for programs (/v1/chat/completions, /api/conversations): on with logins, or with
    # --api; callers send an API token made in the page. Completions one token may run at once.
    api: bool = False
    api_max_concurrent: int = 4

    @property
    def database_path(self) -> Path:
        return self.data_dir / "webchat.sqlite3"

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the conversations database: --database-url, else SQLite in data_dir."""
        return self.database_url or f"sqlite:///{self.database_path}"

    @property
    def auth_enabled(self) -> bool:
        return bool(self.auth or self.auth_file or self.trusted_user_header)

    @property
    def api_enabled(self) -> bool:
        """The API is on with ``--api``, or whenever logins are configured (tokens belong to users)."""
        return bool(self.api or self.auth_enabled)

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
                values[name] = tuple(value) if isinstance(value, list) else value
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
        if typing.get_origin(kind) is tuple:  # a list: comma-separated
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if typing.get_origin(kind) is Literal and raw not in typing.get_args(kind):
            raise ValueError(f"expected one of {', '.join(typing.get_args(kind))}")
        return raw
    except ValueError as error:
        raise SystemExit(f"{ENV_PREFIX}{name.upper()}={raw!r} is not valid: {error}") from None


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)
