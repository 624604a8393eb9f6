"""``webchat --production``: the same app under gunicorn with the gevent worker.

A streaming reply holds a websocket open for seconds. The gevent worker keeps a thousand of them
in one process (bench/README.md: 1000 concurrent replies without a failure, ~200 in real time on
one core); Werkzeug's server spends two threads on each and slows down long before that.

This module runs in gunicorn's master process, which must stay light: it never imports the app
(Flask, huggingface_hub, httpx, ssl). Each worker patches the standard library with gevent first
and only then builds the app from the same ``Settings`` (inherited through ``fork``).

The hub that links a turn's runner to its sockets lives in one process, so without a shared
(Redis) hub there is exactly one worker: the socket of a turn must land where its POST did.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from webchat.settings import Settings

# Each open reply holds one connection; page loads, posts and keep-alive connections come on top.
WORKER_CONNECTIONS = 4096
# A worker's replies end (and are stored as stopped) at most this long after a stop or reload.
GRACEFUL_TIMEOUT = 10


class ProductionError(SystemExit):
    """A production setting that cannot work; the message says what to change."""


def shared_hub(settings: Settings) -> bool:
    """Is the turn hub shared between processes (a Redis URL is configured)?"""
    return bool(getattr(settings, "redis_url", None))


def worker_count(settings: Settings) -> int:
    """One worker, or one per core when the hub is shared; more than one needs a shared hub."""
    if settings.workers is None:
        return (os.cpu_count() or 1) if shared_hub(settings) else 1
    if settings.workers < 1:
        raise ProductionError(f"--workers {settings.workers}: at least one worker is needed.")
    if settings.workers > 1 and not shared_hub(settings):
        raise ProductionError(
            f"--workers {settings.workers} needs --redis-url: a reply's websocket may reach another "
            "worker than the request that started it, and only a shared (Redis) hub finds it there. "
            "Without Redis run one worker; it holds a thousand streams."
        )
    return settings.workers


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn's settings for webchat (``GUNICORN_CMD_ARGS`` may still override any of them)."""
    return {
        "bind": [bind_address(settings.host, settings.port)],
        "workers": worker_count(settings),
        "worker_class": "gevent",
        "worker_connections": WORKER_CONNECTIONS,
        # gunicorn 27 otherwise opens ~/.gunicorn/gunicorn.ctl: not wanted in containers or CI.
        "control_socket_disable": True,
        # Forwarded headers are judged in one place, the app's ProxyFix (--proxy-hops); gunicorn
        # would otherwise trust X-Forwarded-Proto from any local client.
        "secure_scheme_headers": {},
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "webchat",
    }


def persistent_secret(data_dir: Path) -> str:
    """The data folder's signing key, created once before the workers start, so that every
    worker signs sessions with the same key (the app factory reads the same file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class WebchatApplication(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn configured from ``Settings``; each worker builds its own app after forking."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.options = gunicorn_options(settings)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        env_args = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
        for key, value in vars(env_args).items():
            if value is not None and key != "args":
                self.cfg.set(key.lower(), value)

    def load(self) -> Any:
        from gevent import monkey  # in the worker, before anything else imports socket or threading

        monkey.patch_all()  # the gevent worker did it already; other worker classes need it too

        from webchat.app import create_app  # only now: after the patch above

        return create_app(self.settings)


def serve_production(settings: Settings) -> None:
    """Run gunicorn in this process until it is stopped (SIGTERM or Ctrl+C)."""
    worker_count(settings)  # refuse a bad --workers before anything starts
    if not settings.secret_key:
        settings = settings.with_changes(secret_key=persistent_secret(settings.data_dir))
    WebchatApplication(settings).run()
