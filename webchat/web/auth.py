"""Sign-in, when auth is on: the login page, signing out, and the check that every other request
(pages, HTMX requests, API calls, the websocket) comes from a signed-in user.

A user is signed in by a session row (``webchat.store.logins``) whose token the signed cookie
carries, or, behind an authenticating proxy (oauth2-proxy and the like), by the proxy's user
header, which counts only when the request's direct peer is a trusted proxy address. Either way
the owner of the conversations is ``u:<name>``, so a user sees them from any browser.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import Engine

from webchat.settings import Settings
from webchat.store.logins import Logins
from webchat.users import Users, UsersError
from webchat.web.errors import json_error, wants_json
from webchat.web.htmx import htmx
from webchat.web.htmx import make_response as htmx_response
from webchat.web.services import services
from webchat.web.session import is_api_path, is_websocket, rotate_session

log = logging.getLogger("webchat.auth")

bp = Blueprint("auth", __name__)

# Reachable without signing in. The API's paths ask for an API token instead (its own guard).
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.logout", "static"})
MAX_PASSWORD = 1024
MAX_HEADER_USER = 120
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Auth:
    settings: Settings
    users: Users
    logins: Logins
    proxies: tuple[Network, ...]
    unix_proxy: bool  # "unix" in --trusted-proxy: requests over a Unix socket come from the proxy

    @property
    def proxy_only(self) -> bool:
        """Only the proxy's header signs people in: there is no password to type here."""
        return not self.users


def parse_proxies(entries: tuple[str, ...]) -> tuple[tuple[Network, ...], bool]:
    networks: list[Network] = []
    unix = False
    for entry in entries:
        if entry == "unix":
            unix = True
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise UsersError(
                f"--trusted-proxy {entry!r} is not an IP address or network (or 'unix')"
            ) from None
    return tuple(networks), unix


def make_auth(settings: Settings, engine: Engine) -> Auth | None:
    """Sign-in, when the settings ask for it (raises UsersError for bad users or proxies)."""
    if not settings.auth_enabled:
        return None
    proxies, unix = parse_proxies(settings.trusted_proxies)
    users = Users(settings.auth, settings.auth_file)
    return Auth(settings, users, Logins(engine), proxies, unix)


def state() -> Auth | None:
    return services().auth


# Who is asking


def direct_peer() -> str:
    """The address of whoever opened the connection to us, before ProxyFix rewrote REMOTE_ADDR."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR") or ""


def is_trusted_proxy(auth: Auth, peer: str) -> bool:
    try:
        address = ipaddress.ip_address(peer.strip("[]").split("%")[0])
    except ValueError:
        return auth.unix_proxy and not peer  # a Unix socket has no address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in auth.proxies)


_warned: set[str] = set()


def header_user(auth: Auth) -> str | None:
    header = auth.settings.trusted_user_header
    value = request.headers.get(header) if header else None
    if value is None:
        return None
    peer = direct_peer()
    if not is_trusted_proxy(auth, peer):
        if peer not in _warned and len(_warned) < 100:
            _warned.add(peer)
            log.warning("ignored %s from %s: not a trusted proxy (see --trusted-proxy)", header, peer)
        return None
    value = value.strip()
    if not value or len(value) > MAX_HEADER_USER or not value.isprintable() or " " in value:
        log.warning("ignored %s: %r is not a usable user name", header, value[:MAX_HEADER_USER])
        return None
    return value


def session_user(auth: Auth) -> str | None:
    token = session.get("login")
    if not isinstance(token, str):
        return None
    name = auth.logins.user_of(token)
    if name is None or not auth.users.exists(name):  # signed out elsewhere, expired, or removed
        session.pop("login", None)
        return None
    return name


@bp.before_app_request
def require_sign_in() -> Any:
    auth = state()
    if auth is None or request.endpoint == "static":
        return None
    user = header_user(auth)
    g.signed_in_by = "proxy"
    if user is None:
        user = session_user(auth)
        g.signed_in_by = "password"
    if user:
        g.user = user
        return None
    g.signed_out = True
    if request.endpoint in PUBLIC_ENDPOINTS or is_api_path() or is_websocket():
        return None  # the socket route itself closes with "sign in first" (1008)
    return sign_in_required()


def sign_in_required() -> Any:
    if wants_json():
        return json_error("Sign in first.", 401)
    if htmx:
        # Keep the page (and whatever the user typed): say so next to the composer, with a link.
        current = urlsplit(request.headers.get("HX-Current-URL", "")).path
        root = request.script_root
        here = current[len(root) :] if root and current.startswith(root) else current
        html = render_template("partials/sign_in_needed.html", next=safe_next(here))
        return htmx_response(html, retarget="#composer-status", reswap="innerHTML"), 401
    target = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else "/"
    return redirect(url_for("auth.login", next=safe_next(target)), 303)


# Where to go after signing in


def safe_next(value: str) -> str:
    """A path on this site to return to after signing in; anything that could leave it is "/"."""
    if not value or len(value) > 2000:
        return "/"
    for candidate in (value, unquote(value)):
        if not candidate.startswith("/") or candidate.startswith("//"):
            return "/"
        if "\\" in candidate or any(ord(c) < 32 or ord(c) == 127 for c in candidate):
            return "/"
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return "/"
    return value


def go_to(path: str) -> Response:
    return redirect(request.script_root + safe_next(path), 303)


# Rate limiting


def user_key(username: str) -> str:
    return f"user:{username[:200].lower()}"


def address_key(address: str) -> str:
    """An IPv4 address, or an IPv6 address's /64 (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address[:100]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"addr:{ip}"


def wait_seconds(auth: Auth, username: str, address: str) -> float:
    """How long this user name or address must wait before trying again (0: it may try now)."""
    window = auth.settings.login_window_seconds
    now = time.time()
    wait = 0.0
    for key, limit in (
        (user_key(username), auth.settings.login_failures_per_user),
        (address_key(address), auth.settings.login_failures_per_address),
    ):
        failures = auth.logins.failures(key, window)
        if failures.count >= limit and failures.oldest is not None:
            wait = max(wait, failures.oldest + window - now, 1.0)
    return wait


# Routes


def render_login(
    auth: Auth, *, next_path: str, username: str = "", error: str = "", message: str = "", status: int = 200
) -> tuple[str, int]:
    html = render_template(
        "login.html",
        next=next_path,
        username=username,
        error=error,
        message=message,
        proxy_only=auth.proxy_only,
        header=auth.settings.trusted_user_header,
    )
    return html, status


class SignInRefused(Exception):
    """A sign-in refused: what to say, the status, and how long to wait (for Retry-After)."""

    def __init__(self, message: str, status: int, wait: float = 0.0) -> None:
        super().__init__(message)
        self.message, self.status, self.wait = message, status, wait


def sign_in(auth: Auth, username: str, password: str, address: str) -> None:
    """Check the password, counting failures per user name and per address; on success the
    session is the user's (a new session id and CSRF token: nothing from before carries over)."""
    if not username or not password:
        raise SignInRefused("Enter your user name and your password.", 422)
    wait = wait_seconds(auth, username, address)
    if wait:
        minutes = math.ceil(wait / 60)
        plural = "s" if minutes != 1 else ""
        raise SignInRefused(f"Too many failed sign-ins. Try again in {minutes} minute{plural}.", 429, wait)
    if len(password) > MAX_PASSWORD or not auth.users.verify(username, password):
        window = auth.settings.login_window_seconds
        auth.logins.record_failure([user_key(username), address_key(address)], window)
        log.info("failed sign-in for %r from %s", username[:64], address)
        raise SignInRefused("Wrong user name or password.", 401)
    auth.logins.clear_failures(user_key(username))
    rotate_session()
    session["login"] = auth.logins.create(username)
    log.info("%r signed in from %s", username, address)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    auth = state()
    next_path = safe_next(request.values.get("next", ""))
    if auth is None or g.get("user"):
        return go_to(next_path)
    if auth.proxy_only:
        return render_login(auth, next_path=next_path, status=401)
    if request.method == "GET":
        message = "You are signed out." if request.args.get("signed_out") else ""
        return render_login(auth, next_path=next_path, message=message)
    username = request.form.get("username", "").strip()
    try:
        sign_in(auth, username, request.form.get("password", ""), request.remote_addr or direct_peer())
    except SignInRefused as refused:
        html, status = render_login(
            auth, next_path=next_path, username=username, error=refused.message, status=refused.status
        )
        headers = {"Retry-After": str(math.ceil(refused.wait))} if refused.wait else {}
        return Response(html, status, headers=headers)
    return go_to(next_path)


@bp.post("/logout")
def logout() -> Any:
    auth = state()
    token = session.get("login")
    if auth is not None and isinstance(token, str):
        auth.logins.end(token)
    rotate_session()
    if auth is None:
        return redirect(url_for("web.index"), 303)
    return redirect(url_for("auth.login", signed_out=1), 303)
