"""The API's errors: OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, for
every refusal and failure on an API path, whether a route raised :class:`ApiError` or Flask
answered an HTTP error (unknown path, wrong method, body too large)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException

from webchat.errors import Refused
from webchat.files.limits import human_size
from webchat.web.api import schemas
from webchat.web.services import services

MAX_BODY = 32 * 1024 * 1024  # a few inline images in base64, with room to spare
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "api_error",
}


class ApiError(Exception):
    """An API refusal or failure, answered as OpenAI-shaped JSON with this status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


def error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    detail = schemas.ErrorDetail(message=message, type=kind, param=param, code=code)
    return schemas.Error(error=detail).model_dump(mode="json")


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The JSON answer for any error on an API path (the app's error handler uses it too)."""
    response = jsonify(error_body(status, message, code=code, param=param))
    response.status_code = status
    response.headers.update(headers or {})
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="webchat"')
    return response


def http_error_response(error: HTTPException) -> Response:
    """An HTTP error on an API path (unknown path, wrong method, body too large...) as API JSON."""
    status = error.code or 500
    message = error.description or error.name
    param = None
    if status == 413 and request.path == "/api/files":
        param = "file"
        size = human_size(services().uploads.limits.max_file_size)
        message = f"The file is larger than {size}, the most one file may be."
    elif status == 413:
        message = f"The body is larger than {MAX_BODY // (1024 * 1024)} MB."
    elif status >= 500:
        message = "The server failed while answering. The details are in the server log."
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return error_response(status, message, code=_HTTP_CODES.get(status), param=param, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "server_error",
}


def refused(error: Refused, *, param: str | None = None, status: int | None = None) -> ApiError:
    """A refusal from the engine (a rule, a busy conversation, a file), as the API answers it."""
    return ApiError(status or error.status, error.message, param=param)


def api_error_response(error: ApiError) -> Response:
    return error_response(
        error.status, error.message, code=error.code, param=error.param, headers=error.headers
    )
