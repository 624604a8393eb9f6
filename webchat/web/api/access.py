"""Who may call the API, and what a call must bring.

Every request under ``/v1/`` and ``/api/`` passes :func:`guard` first: the API is off (404) unless
``--api`` is given or logins are configured, and a request acts as the owner of the API token it
sends (``Authorization: Bearer``), never as a browser session.
"""

from __future__ import annotations

from typing import Any

from flask import g, request

from webchat.messages import MessageError, parse_json
from webchat.store.tokens import ApiToken
from webchat.web.api.errors import MAX_BODY, ApiError
from webchat.web.services import services
from webchat.web.session import bearer_token, is_api_path


def guard() -> None:
    """Before every request: on API paths, refuse when the API is off or the caller has no valid token.

    Returns quietly elsewhere. The token's owner is then ``g.api_token.owner``.
    """
    if not is_api_path():
        return
    app = services()
    if not app.settings.api_enabled:
        raise ApiError(
            404,
            "The API is off. Start webchat with --api (or with logins, --auth) to use it.",
            code="api_off",
        )
    request.max_content_length = MAX_BODY
    if request.path == "/api/openapi.json":
        return  # the description is public, like the documentation of any API
    secret = bearer_token()
    if secret is None:
        raise ApiError(
            401,
            "This API needs an API token: send the header 'Authorization: Bearer <token>'. "
            "Create a token in the page, under API tokens.",
            code="missing_api_key",
        )
    token = app.tokens.authenticate(secret)
    if token is None:
        raise ApiError(
            401, "This API token is not valid: it is mistyped or was revoked.", code="invalid_api_key"
        )
    if not owner_may_sign_in(token.owner):
        raise ApiError(
            401,
            "This API token belongs to no current user (it was made before sign-in was turned on, or "
            "its user was removed). Sign in and make a new one.",
            code="invalid_api_key",
        )
    g.api_token = token


def owner_may_sign_in(owner: str) -> bool:
    """With logins on, a token counts only if its owner is a user who could sign in now: not a
    browser session from before logins, nor a user taken off the --auth list."""
    login = services().auth
    if login is None:
        return True
    if not owner.startswith("u:"):
        return False
    if login.users and not login.settings.trusted_user_header:
        return login.users.exists(owner[2:])
    return True  # users of an authenticating proxy are not listed here


def caller() -> ApiToken:
    return g.api_token


def json_body() -> Any:
    if not request.data:
        raise ApiError(400, "The body is empty; send a JSON object.", code="invalid_json")
    try:
        return parse_json(request.data)
    except MessageError as error:
        raise ApiError(400, str(error), code="invalid_json") from None
