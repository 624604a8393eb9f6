"""Shared fixtures: apps with controllable chat functions, a real server on 127.0.0.1, Chromium."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from webchat.app import create_app
from webchat.settings import Settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The 94 MB model is fetched once per machine, not once per test run.
MODELS_DIR = Path(
    os.environ.get("WEBCHAT_TEST_MODELS", str(Path.home() / ".cache" / "webchat-test" / "models"))
)


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    values = {"data_dir": tmp_path / "data", "backend": "echo", "secret_key": "test-secret", **changes}
    return Settings(**values)


def slow_words(words: list[str], delay: float) -> Callable[..., Iterator[str]]:
    """A chat function that streams ``words`` one by one, ``delay`` seconds apart."""

    def fn(message: Any, history: list[dict[str, Any]]) -> Iterator[str]:
        text = ""
        for word in words:
            text += word
            yield text
            time.sleep(delay)

    return fn


@pytest.fixture(scope="session")
def default_gguf() -> Path:
    from webchat.backends.local import ensure_default_model

    return ensure_default_model(MODELS_DIR)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    def factory(chat_fn: Callable[..., Any] | None = None, *, page: Any = None, **changes: Any) -> Flask:
        app = create_app(
            settings_for(tmp_path, **changes), chat_fn or slow_words(["Hi", " there"], 0), page=page
        )
        app.testing = True
        return app

    return factory


def csrf_of(client: Any) -> str:
    client.get("/new")
    with client.session_transaction() as session:
        return session["csrf"]


@dataclass
class LiveServer:
    app: Flask
    url: str
    host_port: str


@pytest.fixture
def live_server(make_app: Callable[..., Flask]) -> Iterator[Callable[..., LiveServer]]:
    """Start the app on a real threaded HTTP server on 127.0.0.1; stopped after the test."""
    servers: list[Any] = []

    def start(chat_fn: Callable[..., Any] | None = None, **changes: Any) -> LiveServer:
        app = make_app(chat_fn, **changes)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        host_port = f"127.0.0.1:{server.server_port}"
        return LiveServer(app, f"http://{host_port}", host_port)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium instead of a browser Playwright would download."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            *browser_type_launch_args.get("args", []),
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


TURN_ID = re.compile(r'id="turn-([A-Za-z0-9_-]+)"')


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL server on loopback (tests/servers.py), started on first use."""
    from servers import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    """A throwaway Redis server on loopback (tests/servers.py), started on first use."""
    from servers import start_redis

    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def watched(page: Any) -> Iterator[Any]:
    """The Playwright page, failing the test on any script error or CSP violation it logs (a 4xx
    answer to a refused request is expected and shown in the page, so it is not a problem)."""
    problems: list[str] = []
    expected = "the server responded with a status of 4"
    page.on(
        "console", lambda m: problems.append(m.text) if m.type == "error" and expected not in m.text else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    assert problems == [], problems
