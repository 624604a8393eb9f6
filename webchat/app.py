"""The app factory: the one entry point for the CLI, gunicorn and the tests."""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import signal
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from flask_sock import Sock
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from webchat import render
from webchat.backends import Backend
from webchat.backends.compare import is_compared
from webchat.backends.models import Models, RoutedChat, build_models
from webchat.backends.tools import Toolbox
from webchat.chat import ChatFunction
from webchat.conversation import Conversations
from webchat.hub import TurnHub
from webchat.hub.memory import Hub
from webchat.limits import RateWindow, RedisWindow, SlidingWindow, Slots
from webchat.paths import STATIC_DIR, TEMPLATES_DIR
from webchat.settings import Settings
from webchat.store import Store
from webchat.store.presets import PresetStore
from webchat.store.tokens import TokenStore
from webchat.turns import TurnRunner, start_later
from webchat.web import auth, compress, controls, conversations, events, pages, stream, tokens
from webchat.web import files as web_files
from webchat.web import models as model_routes
from webchat.web.api import BLUEPRINTS as API_BLUEPRINTS
from webchat.web.api.access import guard
from webchat.web.api.errors import ApiError, api_error_response
from webchat.web.api.mcp import mcp_wsgi
from webchat.web.errors import respond_to_http_error
from webchat.web.event_stream import follow_event
from webchat.web.grouping import thread, with_tail
from webchat.web.htmx import htmx
from webchat.web.page import LikeHandler, MessageLook, Page
from webchat.web.services import EXTENSION, Services
from webchat.web.session import SessionInterface, check_csrf, csrf_token, is_websocket

log = logging.getLogger("webchat")

RESTARTED = "The server restarted while this reply was being written. Retry it."
SHUTDOWN_MARGIN_SECONDS = 2.0  # replies are stored this long before gunicorn's graceful timeout
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings | None = None,
    chat_fn: ChatFunction | None = None,
    *,
    page: Page | None = None,
    server_name: str = "The model server",
    on_like: LikeHandler | None = None,
) -> Flask:
    """Build the app. Without ``chat_fn`` the model named by ``settings`` answers; ``page`` is
    what the page shows around the chat; ``on_like`` hears likes and dislikes. Every service is
    built here, once, into one :class:`Services` record."""
    settings = settings or Settings.load()
    _private_data_dir(settings)
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key or _persistent_secret(settings.data_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="webchat_session",
        SOCK_SERVER_OPTIONS={
            "ping_interval": settings.socket_ping_seconds,
            "max_message_size": settings.max_socket_message,
        },
    )
    # The built-in backends take files (images go to vision models); a program says so itself.
    page = page or Page(
        title=settings.title,
        description=settings.description,
        placeholder=settings.placeholder,
        multimodal=chat_fn is None,
    )
    models: Models | None = None
    toolbox: Toolbox | None = None
    if chat_fn is None:
        models = build_models(settings)
        backend, toolbox = models.default.backend, models.toolbox
    else:
        backend = Backend(chat_fn, server_name, page.title or "webchat")
    store = Store(settings.store_url)
    # The built-in models answer with the model each conversation chose (webchat.backends.models).
    answer = RoutedChat(models, store.conversation_settings) if models is not None else backend.chat
    hub = _make_hub(settings)
    uploads = web_files.make_uploads(app, settings, store)
    runner = TurnRunner(
        store,
        hub,
        answer,
        server_name=backend.server_name,
        reply_files=lambda turn: web_files.reply_files_for(app, uploads, turn),
        lease_seconds=settings.runner_lease_seconds,
    )
    rate = _rate_window(settings, hub)
    client_rate = _rate_window(settings, hub, client=True)
    app.extensions[EXTENSION] = Services(
        settings=settings,
        store=store,
        hub=hub,
        backend=backend,
        models=models,
        toolbox=toolbox,
        presets=PresetStore(store.engine),
        runner=runner,
        uploads=uploads,
        conversations=Conversations(
            store,
            runner,
            uploads,
            rate,
            max_message_chars=settings.max_message_chars,
            max_running_turns=settings.max_running_turns,
            multimodal=page.multimodal,
            client_rate=client_rate,
            client_max_running_turns=settings.client_max_running_turns,
            greeting=page.greeting,
            retry_inputs=page.retry_inputs,
        ),
        page=page,
        tokens=TokenStore(store.engine),
        auth=auth.make_auth(settings, store.engine),
        rate=rate,
        sockets=Slots(settings.max_sockets_per_owner),
        client_sockets=Slots(settings.client_max_sockets),
        client_uploads=SlidingWindow(settings.client_upload_bytes_per_hour, 3600.0),
        api_slots=Slots(settings.api_max_concurrent),
        on_like=on_like,
    )
    _recover_turns(app, runner)
    app.session_interface = SessionInterface()
    htmx.init_app(app)
    # auth first: its sign-in check runs before every route
    blueprints = (
        auth.bp,
        pages.bp,
        controls.bp,
        conversations.bp,
        events.bp,
        model_routes.bp,
        web_files.bp,
        tokens.bp,
        *API_BLUEPRINTS,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    compress.init_app(app)
    _register_socket(app)
    _register_templates(app)
    _register_security(app)
    _trust_proxies(app, settings.proxy_hops)
    if settings.mcp_server:  # the chat as an MCP tool at /mcp, beside the page
        api_tokens = app.extensions[EXTENSION].tokens if settings.api_enabled else None
        title = page.title if page.title != "webchat" or chat_fn is None else "webchat"
        app.wsgi_app = mcp_wsgi(title, backend.chat, api_tokens, app.wsgi_app)  # type: ignore[method-assign]
    return app


def _make_hub(settings: Settings) -> TurnHub:
    """The in-process hub; with --redis-url, the Redis hub that every worker and host shares."""
    if not settings.redis_url:
        return Hub()
    from webchat.hub.redis import RedisHub  # needs the optional redis package (webchat[redis])

    return RedisHub(settings.redis_url, lease_seconds=settings.runner_lease_seconds)


def _rate_window(settings: Settings, hub: TurnHub, *, client: bool = False) -> RateWindow:
    """Messages per minute per owner (or per client address): counted in Redis when workers
    share it, else here."""
    limit = settings.client_messages_per_minute if client else settings.messages_per_minute
    redis = getattr(hub, "redis", None)
    if redis is not None:
        return RedisWindow(redis, limit, prefix="webchat:rate:client:" if client else "webchat:rate:")
    return SlidingWindow(limit)


def _recover_turns(app: Flask, runner: TurnRunner) -> None:
    """Replies left running by a process that ended are stored as interrupted, with their last
    checkpoint (webchat/turns.py), at start and then in this process's background loop, which
    also checkpoints and renews its lease; at exit, the replies it writes are stored as stopped."""
    runner.reap(grace=runner.lease_seconds, reason=RESTARTED)
    runner.store.engine.dispose()  # with gunicorn --preload, no connection may cross the fork
    app.before_request(runner.ensure_background)  # once per process (after any fork)
    atexit.register(_shutdown, weakref.ref(runner))  # SIGTERM (as SystemExit), a worker's exit
    _shutdown_before_the_kill(runner)


def _shutdown(runner: weakref.ref[TurnRunner]) -> None:
    alive = runner()
    if alive is not None:
        alive.shutdown()


def _shutdown_before_the_kill(runner: TurnRunner) -> None:
    """In a gunicorn worker, SIGTERM (a stop, a reload) lets replies go on for the graceful
    timeout, and then the master kills the worker outright, before any exit hook: store the
    replies still being written as stopped just before that (a reply that ends sooner is stored
    whole, as usual)."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    worker = getattr(previous, "__self__", None)  # gunicorn's Worker.handle_exit, once it runs
    graceful = getattr(getattr(worker, "cfg", None), "graceful_timeout", None)
    if not callable(previous) or not isinstance(graceful, int | float):
        return
    ref = weakref.ref(runner)

    def on_term(signum: int, frame: Any) -> None:
        later = max(0.0, graceful - SHUTDOWN_MARGIN_SECONDS)
        start_later(later, _shutdown, ref)  # the handler may not block (gevent runs it in its hub)
        previous(signum, frame)

    signal.signal(signal.SIGTERM, on_term)


def _trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies, take the client address, scheme and path prefix (so every
    URL carries ``/chat``) from their X-Forwarded-* headers. X-Forwarded-Host stays ignored: the
    proxy passes the browser's Host itself, and a client's forged header changes nothing."""
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=hops
        )


def _private_data_dir(settings: Settings) -> None:
    """The data folder (conversations, uploads, the signing key) readable by webchat's user only,
    whatever the umask: 0700, and the SQLite database 0600 (its WAL and journal files take the
    database's mode)."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if settings.data_dir.stat().st_uid == os.getuid():
        settings.data_dir.chmod(0o700)
    if not settings.database_url:
        path = settings.database_path
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        elif path.stat().st_uid == os.getuid():
            path.chmod(0o600)


def _persistent_secret(data_dir: Path) -> str:
    """A signing key that survives restarts (so sessions do), created once per data folder."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _register_socket(app: Flask) -> None:
    sock = Sock(app)

    @sock.route("/turns/<turn_id>/stream", endpoint="stream")
    def turn_stream(ws: Any, turn_id: str) -> None:
        stream.stream_turn(ws, turn_id)

    @sock.route("/events/runs/<run_id>", endpoint="event_stream")
    def event_stream(ws: Any, run_id: str) -> None:
        follow_event(ws, run_id)


def message_text(look: MessageLook) -> Callable[[str], Markup]:
    """How a message's text is drawn: Markdown (images only from our own file URLs, under any
    path prefix; math unless the program turned it off), or as written when a program's
    Chatbot says ``render_markdown=False``."""
    if not look.markdown:
        return lambda text: Markup("<p>") + render.render_plain(text) + Markup("</p>")

    def markdown(text: str) -> Markup:
        return render.render_markdown(text, files_prefix=request.script_root + "/files/", math=look.math)

    return markdown


def markdown_inline(text: str) -> Markup:
    """One line of Markdown for the page (a thought's title)."""
    return render.render_inline(text, files_prefix=request.script_root + "/files/")


def layout_markdown(text: str) -> Markup:
    """A program's own Markdown (gr.Markdown), which may hold layout HTML."""
    return render.render_layout_markdown(text, files_prefix=request.script_root + "/files/")


def layout_html(text: str) -> Markup:
    """A program's own HTML (gr.HTML), sanitised."""
    return render.render_html(text, files_prefix=request.script_root + "/files/")


def _register_templates(app: Flask) -> None:
    app.jinja_env.filters["markdown"] = message_text(app.extensions[EXTENSION].page.look)
    app.jinja_env.filters["layout_markdown"] = layout_markdown
    app.jinja_env.filters["layout_html"] = layout_html
    app.jinja_env.filters["code"] = render.render_code
    app.jinja_env.filters["plain"] = render.render_plain
    # JSON to read (a turn's request), escaped by the template like any text.
    app.jinja_env.filters["pretty_json"] = lambda value: json.dumps(value, ensure_ascii=False, indent=2)
    app.jinja_env.filters["markdown_inline"] = markdown_inline
    app.jinja_env.filters["with_tail"] = with_tail
    app.jinja_env.filters["thread"] = thread
    app.jinja_env.tests["compared"] = lambda stored: is_compared(stored.message)  # webchat.backends.compare
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def interface() -> dict[str, Any]:
        return {"ui": app.extensions[EXTENSION].page}


def _register_security(app: Flask) -> None:
    @app.before_request
    def protect() -> Any:
        # A websocket from a foreign origin is refused by the socket route with close code 1008,
        # which the page's hx-ws does not retry (a refused handshake would look like 1006 to it).
        if is_websocket():
            # No permessage-deflate: frames are a few bytes, each compressed socket would keep
            # ~130 KB of zlib state, and every token would be compressed on its own.
            request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        guard()  # /api/ and /v1/: is the API on, and the caller's token (which exempts from CSRF)
        check_csrf()
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    app.register_error_handler(HTTPException, respond_to_http_error)
    app.register_error_handler(ApiError, api_error_response)  # the guard raises it before routing ends
