"""Serving a Gradio program: the app it builds, and ``launch()`` with Gradio's arguments."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask

from webchat.app import create_app
from webchat.chat import ChatFunction
from webchat.errors import UnsupportedError
from webchat.server import serve
from webchat.settings import Settings
from webchat.web.page import LikeHandler, Page


def build_app(
    chat_fn: ChatFunction,
    page: Page,
    settings: Settings | None = None,
    *,
    on_like: LikeHandler | None = None,
) -> Flask:
    """The app serving ``chat_fn`` on ``page``; ``on_like`` hears likes and dislikes."""
    return create_app(
        settings or Settings.load(), chat_fn, page=page, server_name="The chat function", on_like=on_like
    )


# launch() arguments that only concern Gradio's own server, browser or telemetry.
IGNORED_LAUNCH = frozenset(
    {
        "inline",
        "inbrowser",
        "debug",
        "max_threads",
        "auth_message",
        "prevent_thread_lock",
        "show_error",
        "height",
        "width",
        "favicon_path",
        "quiet",
        "show_api",
        "footer_links",
        "allowed_paths",
        "blocked_paths",
        "app_kwargs",
        "state_session_capacity",
        "enable_monitoring",
        "strict_cors",
        "ssr_mode",
        "pwa",
        "i18n",
        "theme",
        "share_server_address",
        "share_server_protocol",
        "share_server_tls_certificate",
    }
)


def launch(
    make_app: Callable[[Settings], Flask],
    server_name: str | None = None,
    server_port: int | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool | None = None,
    auth: Any = None,
    root_path: str | None = None,
    css: str | None = None,
    max_file_size: int | str | None = None,
    mcp_server: bool | None = None,
    **options: Any,
) -> None:
    """Serve until interrupted; prints the URL. Arguments as Gradio's ``launch()``."""
    if share:
        raise UnsupportedError(
            "launch(share=True) is not supported: webchat makes no tunnels or share links. Run it on a "
            "host people can reach (server_name='0.0.0.0'), behind your own reverse proxy for HTTPS"
        )
    unknown = sorted(set(options) - IGNORED_LAUNCH)
    if any(name.startswith("ssl_") for name in unknown):
        raise UnsupportedError(
            "launch(ssl_...) is not supported: put a reverse proxy (nginx) in front for HTTPS"
        )
    if unknown:
        raise TypeError(f"launch() got unexpected keyword arguments: {', '.join(unknown)}")
    # Gradio's environment variables come after launch()'s arguments and before webchat's own:
    # deployments made for Gradio (Spaces-style containers) set them.
    cli: dict[str, Any] = {
        "host": host or server_name or os.environ.get("GRADIO_SERVER_NAME") or None,
        "port": port or server_port or _env_port(),
    }
    root_path = root_path or os.environ.get("GRADIO_ROOT_PATH") or None
    size = max_file_size or os.environ.get("GRADIO_MAX_FILE_SIZE") or None
    if size is not None:
        cli["max_file_size"] = file_size(size)
    if auth is not None:
        cli["auth"] = _auth_pairs(auth)
    if mcp_server or os.environ.get("GRADIO_MCP_SERVER", "").lower() == "true":
        cli["mcp_server"] = True  # the chat as an MCP tool at /mcp (webchat.web.api.mcp)
    settings = Settings.load(cli)
    app = make_app(settings)
    if css:
        page = app.extensions["webchat"].page.gradio
        page.css = "\n".join(filter(None, [page.css, css]))
    if root_path:
        app.wsgi_app = PrefixMiddleware(app.wsgi_app, root_path)  # type: ignore[method-assign]
    serve(app, settings.host, settings.port)


SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def file_size(value: int | str) -> int:
    """Gradio's ``max_file_size``: bytes, or a string such as ``"5mb"`` (kb, mb, gb are powers of 1024)."""
    if isinstance(value, int) and value > 0:
        return value
    text = str(value).strip().lower().replace(" ", "")
    number = text.rstrip("kmgb")
    unit = text[len(number) :] or "b"
    try:
        size = float(number) * SIZE_UNITS[unit]
    except (ValueError, KeyError):
        size = 0
    if size < 1:
        raise ValueError(f"max_file_size must be a number of bytes or like '5mb', not {value!r}")
    return int(size)


def _env_port() -> int | None:
    raw = os.environ.get("GRADIO_SERVER_PORT", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"GRADIO_SERVER_PORT must be a port number (1-65535), not {raw!r}")
    return int(raw)


def _auth_pairs(auth: Any) -> tuple[str, ...]:
    """Gradio's ``auth=("user", "pass")`` or a list of such pairs, as webchat's ``user:password``."""
    if callable(auth):
        raise UnsupportedError(
            "launch(auth=<function>) is not supported by webchat: give (user, password) pairs"
        )
    pairs = [auth] if isinstance(auth, tuple) else list(auth)
    result = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ValueError("launch(auth=...) takes a (user, password) pair or a list of them")
        if ":" in pair[0]:
            raise ValueError("a user name in launch(auth=...) cannot contain ':'")
        result.append(f"{pair[0]}:{pair[1]}")
    return tuple(result)


class PrefixMiddleware:
    """Serve under ``root_path`` (Gradio's name): links and sockets carry the prefix, and requests
    arrive with or without it (a proxy may strip it)."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
        environ["SCRIPT_NAME"] = self.prefix
        return self.app(environ, start_response)
