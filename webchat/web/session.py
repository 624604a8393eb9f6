"""Who is asking: the browser session's owner id, and the CSRF token that proves a form is ours.

The browser holds one signed cookie with a random session id and a CSRF token, nothing else;
everything it owns lives server-side under that id.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import abort, request, session

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def _ensure_session() -> None:
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(32)
        session["csrf"] = secrets.token_urlsafe(32)
        session.permanent = True


def current_owner() -> str:
    """The owner key for this browser's conversations."""
    _ensure_session()
    return "s:" + session["sid"]


def csrf_token() -> str:
    _ensure_session()
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a state-changing request that does not carry this session's token (403)."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(403, description="This form has expired. Reload the page and try again.")


def same_origin() -> bool:
    """Is a websocket handshake from our own page? Browsers always send Origin on websockets."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == request.host
