"""Who is asking: the browser session's owner id, and the CSRF token that proves a form is ours.

The browser holds one signed cookie with a random session id and a CSRF token, nothing else;
everything it owns lives server-side under that id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
API_PREFIXES = ("/api/", "/v1/")


def is_api_path() -> bool:
    """Is this a request to the API for programs (``/api/``, ``/v1/``)? Its answers are JSON."""
    return request.path.startswith(API_PREFIXES)


def is_websocket() -> bool:
    """Is this a websocket handshake?"""
    return request.headers.get("Upgrade", "").lower() == "websocket"


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if the request has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _ensure_session() -> None:
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(32)
        session["csrf"] = secrets.token_urlsafe(32)
        session["day"] = _today()  # the cookie is renewed once a day (SessionInterface)
        session.permanent = True


def current_owner() -> str:
    """The owner key for this browser's conversations: the signed-in user's (the same from any
    browser) when auth is on, else this browser session's."""
    user = g.get("user")
    if user:
        return "u:" + user
    if signed_out():
        abort(401, description="Sign in first.")
    _ensure_session()
    return "s:" + session["sid"]


def signed_out() -> bool:
    """Auth is on and nobody is signed in (webchat.web.auth decides this for each request)."""
    return bool(g.get("signed_out"))


def rotate_session() -> None:
    """A new session id and CSRF token (at sign-in and sign-out): an earlier cookie is worth nothing."""
    session.clear()
    g.pop("csrf_masked", None)
    _ensure_session()


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the cookie marked ``Secure`` whenever the page came over
    https (``request.is_secure`` sees X-Forwarded-Proto through ProxyFix)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        """When the session changed, and once a day besides, so that a session in use never
        expires; not on every response (Flask's default): that is ~270 bytes of every answer."""
        if session.modified:
            return True
        if not session.permanent or not app.config["SESSION_REFRESH_EACH_REQUEST"]:
            return False
        today = _today()
        if session.get("day") == today:
            return False
        session["day"] = today  # sent in the cookie renewed now
        return True


def _today() -> int:
    return int(time.time() // 86400)


def csrf_token() -> str:
    """The session's CSRF token as this response carries it: masked with a random pad, once per
    response. Pages are gzipped (by webchat or nginx) and some reflect what was asked (a search);
    a token whose bytes differ in every response gives a compression-length attack (BREACH)
    nothing to find."""
    _ensure_session()
    if "csrf_masked" not in g:
        secret = _b64decode(session["csrf"])
        pad = secrets.token_bytes(len(secret))
        g.csrf_masked = _b64encode(pad + _xor(pad, secret))
    return g.csrf_masked


def _unmasked(sent: str) -> str:
    """The token a masked one stands for; anything else as it came (the raw token, from a program
    that read the cookie's session, is as good: it is what the mask hides)."""
    raw = _b64decode(sent)
    half = len(raw) // 2
    if not raw or len(raw) != 2 * half:
        return sent
    return _b64encode(_xor(raw[:half], raw[half:]))


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    """URL-safe base64 without padding (as ``secrets.token_urlsafe`` makes); b"" if it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, UnicodeEncodeError):
        return b""


def check_csrf() -> None:
    """Refuse a state-changing request that does not carry this session's token (403)."""
    if request.method not in UNSAFE_METHODS:
        return
    if is_api_path() and bearer_token() is not None:
        # A program with an API token: the API acts as the token's owner, never by cookies, so
        # there is nothing to forge (webchat.web.api checked the token before this). A request
        # that relies on the session cookie is checked like any other.
        return
    check_csrf_value(str(request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")))


def check_csrf_value(sent: str) -> None:
    """Refuse (403) unless ``sent`` is this session's token (masked or not): for a form or
    header, and for the few links that change what a conversation shows (in their query)."""
    expected = session.get("csrf")
    token = str(expected or "").encode()
    if not token or not any(hmac.compare_digest(c.encode(), token) for c in (sent, _unmasked(sent))):
        abort(403, description="This form has expired. Reload the page and try again.")


def same_origin() -> bool:
    """Is a websocket handshake from our own page? Browsers always send Origin on websockets.

    Our page is the configured public origin (``--public-origin``, for a proxy that rewrites
    Host), or else any page served from the host the socket was sent to.
    """
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    public = current_app.extensions["webchat"].settings.public_origin
    if public and normal_origin(origin) == normal_origin(public):
        return True
    # Same scheme too: an http page must not drive the socket of an https site on the same host.
    own = f"{'https' if request.is_secure else 'http'}://{request.host}"
    return normal_origin(origin) == normal_origin(own)


def client_key() -> str:
    """Who is asking, by network address, for the per-client limits: the address the trusted
    proxies report (``--proxy-hops``), an IPv6 one by its /64 (one host usually has a whole /64),
    as a keyed hash so that no address is stored."""
    raw = (request.remote_addr or "").strip("[]").split("%")[0]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        network = raw or "unknown"  # a Unix socket: one client, the proxy
    else:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        prefix = 64 if isinstance(address, ipaddress.IPv6Address) else 32
        network = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    secret = str(current_app.secret_key or "").encode()
    return hmac.new(secret, network.encode(), hashlib.sha256).hexdigest()[:32]


def public_url(path: str = "") -> str:
    """An absolute URL of this site for people to copy (the API's base URL): under the configured
    public origin when there is one, never a Host header a client or a proxy made up; else the
    host this request was sent to."""
    public = current_app.extensions["webchat"].settings.public_origin
    base = normal_origin(public) if public else request.host_url.rstrip("/")
    return base + request.script_root + path


def normal_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without a default port or a trailing slash."""
    parts = urlsplit(origin.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        return ""
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
