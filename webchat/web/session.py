"""Who is asking: the browser session's owner id, and the CSRF token that proves a form is ours.

The browser holds one signed cookie with a random session id and a CSRF token, nothing else;
everything it owns lives server-side under that id.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
API_PREFIXES = ("/api/", "/v1/")


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if the request has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _ensure_session() -> None:
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(32)
        session["csrf"] = secrets.token_urlsafe(32)
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
    _ensure_session()


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the cookie marked ``Secure`` whenever the page came over
    https (``request.is_secure`` sees X-Forwarded-Proto through ProxyFix)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def csrf_token() -> str:
    _ensure_session()
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a state-changing request that does not carry this session's token (403)."""
    if request.method not in UNSAFE_METHODS:
        return
    if request.path.startswith(API_PREFIXES) and bearer_token() is not None:
        # A program with an API token: the API acts as the token's owner, never by cookies, so
        # there is nothing to forge (webchat.web.api checked the token before this). A request
        # that relies on the session cookie is checked like any other.
        return
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
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
