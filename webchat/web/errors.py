"""The one error responder: every refusal and HTTP error answered in the shape its asker reads.

- a program on an API path gets OpenAI-shaped JSON (``webchat.web.api.errors``);
- a client that asks for JSON gets ``{"error": {"message", "code"}}``;
- htmx gets the message next to the composer (``#composer-status``), so the page and what the
  person typed stay as they are;
- a plain browser gets a whole page: the chat page with the message in it when the route gives
  one (``page``), else the error page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from webchat.web.api.errors import error_response, http_error_response
from webchat.web.htmx import htmx
from webchat.web.htmx import make_response as htmx_response
from webchat.web.session import is_api_path


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def json_error(message: str, status: int) -> Response:
    response = jsonify(error={"message": message, "code": status})
    response.status_code = status
    return response


def respond(
    message: str,
    status: int,
    *,
    page: Callable[[], Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Say ``message`` with ``status`` to whoever asked; ``page`` draws the whole page for a
    browser without JavaScript (the chat page with the message in it)."""
    if is_api_path():
        response = error_response(status, message, headers=headers)
    elif wants_json():
        response = json_error(message, status)
    elif htmx:
        html = render_template("partials/composer_status.html", error=message)
        response = htmx_response(html, retarget="#composer-status", reswap="innerHTML")
        response.status_code = status
    elif page is not None:
        response = make_response(page())
        response.status_code = status
    else:
        name = HTTP_STATUS_CODES.get(status, "Error")
        html = render_template("error.html", message=message, status=status, name=name)
        response = make_response(html, status)
    response.headers.update(headers or {})
    return response


def respond_to_http_error(error: HTTPException) -> Response:
    """Flask's handler for every HTTP error (404, 405, 413, 429 ...)."""
    if is_api_path():
        return http_error_response(error)
    headers = {k: v for k, v in error.get_headers() if k.lower() == "retry-after"}
    return respond(error.description or error.name, error.code or 500, headers=headers)
