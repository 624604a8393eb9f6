"""The API for programs: OpenAI chat completions, the caller's conversations as JSON, and its OpenAPI.

Every request under ``/v1/`` and ``/api/`` passes :func:`guard` first: the API is off (404) unless
``--api`` is given or logins are configured, and a request acts as the owner of the API token it
sends (``Authorization: Bearer``), never as a browser session. Errors are OpenAI-shaped JSON:
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request, send_file, url_for
from werkzeug.exceptions import HTTPException

from webchat import completions
from webchat.chat import Reply, stream_reply
from webchat.completions import CompletionRequest, RequestError
from webchat.errors import describe
from webchat.files.limits import UploadError, human_size
from webchat.messages import ChatMessage, MessageError, messages_from_list
from webchat.openapi import openapi_spec
from webchat.settings import Settings
from webchat.store import Conversation, StoredMessage
from webchat.store.tokens import ApiToken, TokenStore
from webchat.web.files import (
    ImportedFileError,
    copy_posted_files,
    file_url,
    form_is_truncated,
    save_posted,
    uploads,
)
from webchat.web.services import Services, history_dicts, services
from webchat.web.session import API_PREFIXES, bearer_token

log = logging.getLogger("webchat.api")

bp = Blueprint("api", __name__)

MAX_BODY = 32 * 1024 * 1024  # a few inline images in base64, with room to spare
UPLOAD_FORM_ROOM = 64 * 1024  # a file's multipart headers, around its bytes
MAX_TITLE = 200
LIST_LIMIT = 200
RETRY_BUSY_SECONDS = 2
RETRY_UPSTREAM_SECONDS = 10
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


def error_body(status: int, message: str, *, code: str | None = None, param: str | None = None) -> dict:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


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
        message = (
            f"The file is larger than {human_size(uploads().limits.max_file_size)}, the most one file may be."
        )
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


def _api_error(error: ApiError) -> Response:
    return error_response(
        error.status, error.message, code=error.code, param=error.param, headers=error.headers
    )


# Access


class Slots:
    """How many completions each owner has running; a program that opens too many gets 429."""

    def __init__(self, per_owner: int) -> None:
        self.per_owner = per_owner
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, owner: str) -> bool:
        with self._lock:
            if self._running.get(owner, 0) >= self.per_owner:
                return False
            self._running[owner] = self._running.get(owner, 0) + 1
            return True

    def give(self, owner: str) -> None:
        with self._lock:
            left = self._running.get(owner, 0) - 1
            if left > 0:
                self._running[owner] = left
            else:
                self._running.pop(owner, None)


@dataclass
class ApiState:
    tokens: TokenStore
    slots: Slots
    started: int = field(default_factory=lambda: int(time.time()))


def init_app(app: Flask) -> None:
    """Register the API and its tokens page; call before the app serves (the guard runs from
    the app's ``before_request``)."""
    from webchat.web import auth, tokens

    webchat: Services = app.extensions["webchat"]
    app.extensions["webchat_api"] = ApiState(
        tokens=TokenStore(webchat.store.engine), slots=Slots(webchat.settings.api_max_concurrent)
    )
    app.register_error_handler(ApiError, _api_error)  # app-wide: the guard raises it before routing ends
    app.register_blueprint(bp)
    app.register_blueprint(tokens.bp)
    # With logins on, API calls carry a token instead of a signed-in session: the sign-in check
    # lets them through to the guard below, which asks for the token.
    auth.PUBLIC_ENDPOINTS.update(
        r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")
    )


def state() -> ApiState:
    return current_app.extensions["webchat_api"]


def api_enabled(settings: Settings) -> bool:
    """The API is on with ``--api``, or whenever logins are configured (then tokens belong to users)."""
    return bool(settings.api or settings.auth_enabled)


def is_api_path() -> bool:
    return request.path.startswith(API_PREFIXES)


def guard() -> None:
    """Before every request: on API paths, refuse when the API is off or the caller has no valid token.

    Returns quietly elsewhere. The token's owner is then ``g.api_token.owner``.
    """
    if not is_api_path():
        return
    if not api_enabled(services().settings):
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
    token = state().tokens.authenticate(secret)
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
    from webchat.web import auth

    login = auth.state()
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
        return json.loads(request.data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, f"The body is not valid JSON: {error}.", code="invalid_json") from None


# Models and chat completions


def served_model() -> str:
    """The id programs see for what answers here: the model's name, or the chat's title."""
    from webchat.backends.echo import EchoChat
    from webchat.backends.inference import InferenceChat

    app = services()
    fn = app.runner.chat_fn
    if isinstance(fn, InferenceChat):
        server = getattr(fn, "server", None)
        if fn.model:
            return fn.model
        if server is not None:
            return Path(server.gguf).stem
        return app.settings.model or "default"
    if isinstance(fn, EchoChat):
        return "echo"
    return app.page.title or "webchat"


def model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": state().started, "owned_by": "webchat"}


@bp.get("/v1/models")
def list_models() -> Any:
    return {"object": "list", "data": [model_object(served_model())]}


@bp.get("/v1/models/<path:model_id>")
def get_model(model_id: str) -> Any:
    if model_id != served_model():
        raise ApiError(
            404, f"There is no model {model_id!r} here; GET /v1/models lists it.", code="model_not_found"
        )
    return model_object(model_id)


@bp.post("/v1/chat/completions")
def chat_completions() -> Any:
    app = services()
    try:
        parsed = completions.parse_request(json_body(), max_message_chars=app.settings.max_message_chars)
    except RequestError as error:
        raise ApiError(error.status, error.message, param=error.param, code="invalid_value") from None
    owner = caller().owner
    folder = Path(tempfile.mkdtemp(prefix="api-", dir=_scratch_dir(app.settings)))
    try:
        message, history = completions.chat_inputs(parsed, folder, multimodal=app.page.multimodal)
    except RequestError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(error.status, error.message, param=error.param, code="invalid_value") from None
    if not state().slots.take(owner):
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(
            429,
            f"Too many completions at once: at most {state().slots.per_owner} run together for one "
            "caller. Wait for one to finish.",
            code="too_many_requests",
            headers={"Retry-After": str(RETRY_BUSY_SECONDS)},
        )
    slots, released = state().slots, threading.Event()

    def release() -> None:
        if not released.is_set():  # once: the stream's end and the response's close both call it
            released.set()
            slots.give(owner)
            shutil.rmtree(folder, ignore_errors=True)

    try:
        response = _complete(parsed, message, history, release)
    except BaseException:
        release()
        raise
    if parsed.stream:
        response.call_on_close(release)  # a program that hangs up before the stream began
    else:
        release()
    return response


def _scratch_dir(settings: Settings) -> Path:
    """Images of a stateless call live here while it runs; nothing of it is kept."""
    path = settings.data_dir / "api-scratch"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _complete(
    parsed: CompletionRequest, message: Any, history: list[dict[str, Any]], release: Callable[[], None]
) -> Response:
    app = services()
    fn = completions.for_request(app.runner.chat_fn, parsed)
    model = served_model()
    server = app.runner.server_name
    replies = stream_reply(fn, message, history)
    try:
        first = next(replies, [])  # the model's first step: a server that is down fails here, with a status
    except Exception as error:
        replies.close()
        raise upstream_error(error, server) from None
    cid = completions.completion_id()
    if not parsed.stream:
        last = first
        try:
            for last in replies:  # noqa: B007 - only the whole reply is wanted
                pass
        except Exception as error:
            raise upstream_error(error, server) from None
        finally:
            replies.close()
        return jsonify(completions.completion(cid, model, completions.reply_text(last)))
    events = _events(cid, model, server, first, replies, release)
    response = Response(events, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _events(
    cid: str, model: str, server: str, first: Reply, replies: Iterator[Reply], release: Callable[[], None]
) -> Iterator[str]:
    """Server-sent events: the text as it grows, then a stop chunk and ``[DONE]``; ``release``
    frees the call's slot and scratch files as soon as the chat function is done (a WSGI server may
    close the response only once the program closes its connection).

    A chat function that rewrites earlier text (rather than appending) cannot be streamed as
    deltas; what it appends after agreeing with what was sent again is sent.
    """
    sent = ""
    try:
        yield _event(completions.chunk(cid, model, delta={"role": "assistant", "content": ""}))
        for reply in _chain(first, replies):
            text = completions.reply_text(reply)
            if text.startswith(sent) and len(text) > len(sent):
                yield _event(completions.chunk(cid, model, delta={"content": text[len(sent) :]}))
                sent = text
        yield _event(completions.chunk(cid, model, delta={}, finish_reason="stop"))
    except Exception as error:  # the status is sent already: the error goes in the stream, as OpenAI's do
        failure = upstream_error(error, server)
        yield _event(error_body(failure.status, failure.message, code=failure.code))
    finally:
        close = getattr(replies, "close", None)
        if close:
            close()  # a client that hung up stops the chat function (and frees the model's slot)
        release()
    yield "data: [DONE]\n\n"


def _chain(first: Reply, rest: Iterator[Reply]) -> Iterator[Reply]:
    yield first
    yield from rest


def _event(data: Mapping[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def upstream_error(error: BaseException, server: str) -> ApiError:
    """What a chat function's failure means for the caller: 429 when the model server is
    rate-limiting us (with its Retry-After), otherwise 502, in the words the page would use."""
    message = describe(error, server=server)
    response = getattr(error, "response", None)
    if getattr(response, "status_code", None) == 429:
        retry = str(getattr(response, "headers", {}).get("Retry-After", "") or "")
        retry = retry if retry.isdigit() else str(RETRY_UPSTREAM_SECONDS)
        return ApiError(429, message, code="model_rate_limited", headers={"Retry-After": retry})
    return ApiError(502, message, code="model_server_error")


# Conversations


def conversation_summary(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "object": "conversation",
        "title": conversation.title,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }


def conversation_detail(conversation: Conversation, stored: list[StoredMessage]) -> dict[str, Any]:
    return {**conversation_summary(conversation), "messages": history_dicts(stored)}


def owned(conversation_id: str) -> Conversation:
    conversation = services().store.get_conversation(caller().owner, conversation_id)
    if conversation is None:
        raise ApiError(
            404, f"There is no conversation {conversation_id!r} here.", code="conversation_not_found"
        )
    return conversation


@bp.get("/api/conversations")
def list_conversations() -> Any:
    unknown = sorted(set(request.args) - {"limit"})
    if unknown:
        raise ApiError(
            400, f"Unknown query parameter {unknown[0]!r}: only 'limit' is known.", param=unknown[0]
        )
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= LIST_LIMIT:
        raise ApiError(400, f"'limit' must be a whole number from 1 to {LIST_LIMIT}.", param="limit")
    found = services().store.list_conversations(caller().owner, limit=int(raw))
    return {"object": "list", "data": [conversation_summary(c) for c in found]}


@bp.post("/api/conversations")
def create_conversation() -> Any:
    """A conversation from messages-format JSON. A file is FileData whose ``url`` names one of the
    caller's files (uploaded with POST /api/files, or from a conversation of theirs); the new
    conversation gets its own copy. The ``path`` a caller sends is never used."""
    body = json_body()
    if not isinstance(body, Mapping):
        raise ApiError(400, 'The body must be a JSON object, such as {"messages": [...]}.')
    unknown = sorted(set(body) - {"title", "messages"})
    if unknown:
        raise ApiError(
            400, f"Unknown field {unknown[0]!r}: a conversation has 'title' and 'messages'.", param=unknown[0]
        )
    title = body.get("title", "")
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise ApiError(400, f"'title' must be a string of at most {MAX_TITLE} characters.", param="title")
    try:
        messages, copies = copy_posted_files(caller().owner, _posted_messages(body.get("messages", [])))
    except ImportedFileError as error:
        raise ApiError(400, error.message, param=f"messages[{error.index}].content") from None
    app = services()
    conversation = app.store.create_conversation(caller().owner, title)
    for kind, run in _runs(messages):
        app.store.append(conversation.id, run, kind=kind)
    uploads().link(copies, conversation.id)
    conversation = owned(conversation.id)
    response = jsonify(conversation_detail(conversation, app.store.messages(conversation.id)))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_conversation", conversation_id=conversation.id)
    return response


def _posted_messages(data: Any) -> list[ChatMessage]:
    for index, item in enumerate(data if isinstance(data, list) else []):
        for key, kind, wording in (("metadata", Mapping, "an object"), ("options", list, "a list")):
            if isinstance(item, Mapping) and item.get(key) is not None and not isinstance(item[key], kind):
                raise ApiError(
                    400, f"message {index}: '{key}' must be {wording}.", param=f"messages[{index}].{key}"
                )
    try:
        messages = messages_from_list(data)
    except MessageError as error:
        raise ApiError(400, f"'messages' is not in messages format: {error}.", param="messages") from None
    limit = services().settings.max_message_chars
    for index, message in enumerate(messages):
        if isinstance(message.content, str) and len(message.content) > limit:
            raise ApiError(
                413,
                f"message {index} is {len(message.content):,} characters long; the limit is {limit:,}.",
                param=f"messages[{index}].content",
            )
    return messages


def _runs(messages: list[ChatMessage]) -> Iterator[tuple[Any, list[ChatMessage]]]:
    """Consecutive messages of one kind (the user's are input, the rest replies), as the page stores them."""
    run: list[ChatMessage] = []
    kind = None
    for message in messages:
        this = "input" if message.role == "user" else "reply"
        if run and this != kind:
            yield kind, run
            run = []
        kind = this
        run.append(message)
    if run:
        yield kind, run


@bp.get("/api/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> Any:
    conversation = owned(conversation_id)
    return conversation_detail(conversation, services().store.messages(conversation.id))


@bp.delete("/api/conversations/<conversation_id>")
def delete_conversation(conversation_id: str) -> Any:
    app = services()
    conversation = owned(conversation_id)
    running = app.store.running_turn(conversation.id)
    if running:
        app.runner.stop(running.id)
    app.store.delete_conversation(caller().owner, conversation.id)
    return {"id": conversation.id, "object": "conversation.deleted", "deleted": True}


@bp.post("/api/files")
def upload_file() -> Any:
    """Store one file (the multipart field ``file``) to use in conversations posted here.

    The same limits and type sniffing as the page's uploads apply. A file that no conversation
    uses within a day is removed, as an upload never sent with a message is.
    """
    store = uploads()
    request.max_content_length = store.limits.max_file_size + UPLOAD_FORM_ROOM
    if form_is_truncated():
        raise ApiError(400, "The upload arrived incomplete (cut off); send it again.", param="file")
    posted = [f for f in request.files.getlist("file") if f.filename]
    if len(posted) != 1 or set(request.files) - {"file"}:
        message = "Send exactly one file, as the multipart/form-data field 'file' with a filename."
        raise ApiError(400, message, param="file")
    try:
        [record] = save_posted(caller().owner, posted)
    except UploadError as error:  # an empty file is a 422 in the page, a 400 here as in OpenAI's API
        raise ApiError(400 if error.status == 422 else error.status, error.message, param="file") from None
    response = jsonify(store.filedata(record, file_url(record)))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_file", file_id=record.id, name=record.name)
    return response


@bp.get("/api/files/<file_id>/<name>")
def get_file(file_id: str, name: str) -> Any:
    """A file of the caller's, named as in a FileData ``url`` (``/files/<id>/<name>``) under ``/api``.

    Always a download (``attachment``), with the type sniffed when it was stored.
    """
    store = uploads()
    record = store.get(caller().owner, file_id)
    if record is None or record.name != name:
        raise ApiError(404, "There is no such file here.", code="file_not_found")
    response = send_file(
        store.path_of(record),
        mimetype=record.mime_type,
        as_attachment=True,
        download_name=record.name,
        conditional=True,
        max_age=None,
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/api/openapi.json")
def openapi() -> Any:
    return openapi_spec(server_url=request.script_root or "/")
