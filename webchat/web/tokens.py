"""The API tokens page: a signed-in user (or, without logins, this browser) makes and revokes tokens.

A new token's secret is shown once, in the answer to the form that made it; only its hash is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from webchat.store.tokens import ApiToken, TokenError, TokenStore
from webchat.web.htmx import htmx
from webchat.web.services import services
from webchat.web.session import current_owner, public_url

bp = Blueprint("tokens", __name__)


@dataclass(frozen=True)
class TokenRow:
    """A token as the page lists it."""

    id: str
    name: str
    hint: str
    created: str
    last_used: str


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "never"


def _row(token: ApiToken) -> TokenRow:
    return TokenRow(token.id, token.name, token.hint, _when(token.created_at), _when(token.last_used_at))


def _tokens() -> TokenStore:
    return services().tokens


@bp.app_context_processor
def _api_link() -> dict[str, Any]:
    return {"api_enabled": services().settings.api_enabled}


@bp.before_request
def _only_when_on() -> None:
    if not services().settings.api_enabled:
        abort(404, description="The API is off. Start webchat with --api (or with logins) to make tokens.")


def render_tokens(*, secret: str | None = None, created: str = "", error: str = "", status: int = 200) -> Any:
    """The tokens partial for htmx, or the whole page."""
    context = {
        "tokens": [_row(t) for t in _tokens().list(current_owner())],
        "secret": secret,
        "created": created,
        "error": error,
        "api_base": public_url("/v1"),
    }
    template = "partials/api_tokens.html" if htmx else "tokens.html"
    return render_template(template, **context), status


@bp.get("/settings/tokens")
def page() -> Any:
    return render_tokens()


@bp.post("/settings/tokens")
def create() -> Any:
    name = request.form.get("name", "")
    try:
        token, secret = _tokens().create(current_owner(), name)
    except TokenError as error:
        return render_tokens(error=str(error), status=422)
    # Not a redirect: the secret exists only in this answer. no-store keeps it out of caches.
    html, status = render_tokens(secret=secret, created=token.name, status=201)
    return html, status, {"Cache-Control": "no-store"}


@bp.post("/settings/tokens/<token_id>/revoke")
def revoke(token_id: str) -> Any:
    if not _tokens().revoke(current_owner(), token_id):
        return render_tokens(error="That token was already revoked.", status=404)
    if not htmx:
        return redirect(url_for("tokens.page"), 303)
    return render_tokens()
