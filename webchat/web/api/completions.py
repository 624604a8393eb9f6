"""OpenAI's models and chat completions routes: ``GET /v1/models``, ``POST /v1/chat/completions``.

A completion is stateless: nothing of it is stored. Images in the request live in a scratch folder
while the chat function runs; a caller has at most ``--api-max-concurrent`` completions at once.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response
from pydantic import BaseModel

from webchat.chat import Reply, stream_reply
from webchat.errors import describe
from webchat.web.api import openai, schemas
from webchat.web.api.access import caller, json_body
from webchat.web.api.errors import ApiError, error_body
from webchat.web.api.openai import CompletionRequest, RequestError
from webchat.web.services import Services, services

bp = Blueprint("api_completions", __name__)

RETRY_BUSY_SECONDS = 2
RETRY_UPSTREAM_SECONDS = 10


def model_object(model_id: str) -> schemas.Model:
    return schemas.Model(id=model_id, created=int(services().started))


def model_ids() -> list[str]:
    """The models a completion can name: each of the models file's by its name, or the one model."""
    app = services()
    if app.models is None or not app.models.several:
        return [app.backend.model_id]
    return app.models.names


@bp.get("/v1/models")
def list_models() -> Any:
    return schemas.ModelList(data=[model_object(i) for i in model_ids()]).model_dump(mode="json")


@bp.get("/v1/models/<path:model_id>")
def get_model(model_id: str) -> Any:
    if model_id not in model_ids():
        raise ApiError(
            404, f"There is no model {model_id!r} here; GET /v1/models lists it.", code="model_not_found"
        )
    return model_object(model_id).model_dump(mode="json")


@bp.post("/v1/chat/completions")
def chat_completions() -> Any:
    app = services()
    try:
        parsed = openai.parse_request(json_body(), max_message_chars=app.settings.max_message_chars)
    except RequestError as error:
        raise ApiError(error.status, error.message, param=error.param, code="invalid_value") from None
    return Completion(app, parsed, caller().owner).respond()


class Completion:
    """One call: its scratch folder and its slot among the caller's completions, both freed once
    (when the reply is done, or when a program that hung up closes the response)."""

    def __init__(self, app: Services, parsed: CompletionRequest, owner: str) -> None:
        self.app, self.parsed, self.owner = app, parsed, owner
        scratch = app.settings.data_dir / "api-scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="api-", dir=scratch))
        self.released = threading.Event()
        self.has_slot = False

    def release(self) -> None:
        if not self.released.is_set():  # once: the stream's end and the response's close both call it
            self.released.set()
            if self.has_slot:
                self.app.api_slots.release(self.owner)
            shutil.rmtree(self.folder, ignore_errors=True)

    def respond(self) -> Response:
        try:
            message, history = self._inputs()
            response = _complete(self.app, self.parsed, message, history, self.release)
        except BaseException:
            self.release()
            raise
        if self.parsed.stream:
            response.call_on_close(self.release)  # a program that hangs up before the stream began
        else:
            self.release()
        return response

    def _inputs(self) -> tuple[Any, list[dict[str, Any]]]:
        """The chat function's message and history (checked first), then a slot for the call."""
        try:
            inputs = openai.chat_inputs(self.parsed, self.folder, multimodal=self.app.page.multimodal)
        except RequestError as error:
            raise ApiError(error.status, error.message, param=error.param, code="invalid_value") from None
        slots = self.app.api_slots
        if not slots.acquire(self.owner):
            raise ApiError(
                429,
                f"Too many completions at once: at most {slots.limit} run together for one "
                "caller. Wait for one to finish.",
                code="too_many_requests",
                headers={"Retry-After": str(RETRY_BUSY_SECONDS)},
            )
        self.has_slot = True
        return inputs


def _complete(
    app: Services,
    parsed: CompletionRequest,
    message: Any,
    history: list[dict[str, Any]],
    release: Callable[[], None],
) -> Response:
    backend, model = app.backend, app.backend.model_id
    if app.models is not None:
        chosen = app.models.for_api(parsed.model)
        if chosen is None:
            known = ", ".join(repr(n) for n in app.models.names)
            said = f"There is no model {parsed.model!r} here. Known models: {known}."
            raise ApiError(400, said, param="model", code="model_not_found")
        backend, model = chosen.backend, chosen.name if app.models.several else chosen.backend.model_id
    fn = openai.for_request(backend, parsed)
    server = backend.server_name
    replies = stream_reply(fn, message, history)
    try:
        first = next(replies, [])  # the model's first step: a server that is down fails here, with a status
    except Exception as error:
        replies.close()
        raise upstream_error(error, server) from None
    cid = openai.completion_id()
    if not parsed.stream:
        last = first
        try:
            for last in replies:  # noqa: B007 - only the whole reply is wanted
                pass
        except Exception as error:
            raise upstream_error(error, server) from None
        finally:
            replies.close()
        return _json(openai.completion(cid, model, openai.reply_text(last)))
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
        yield _event(openai.chunk(cid, model, delta=schemas.Delta(role="assistant", content="")))
        for reply in _chain(first, replies):
            text = openai.reply_text(reply)
            if text.startswith(sent) and len(text) > len(sent):
                yield _event(openai.chunk(cid, model, delta=schemas.Delta(content=text[len(sent) :])))
                sent = text
        yield _event(openai.chunk(cid, model, delta=schemas.Delta(), finish_reason="stop"))
    except Exception as error:  # the status is sent already: the error goes in the stream, as OpenAI's do
        failure = upstream_error(error, server)
        body = error_body(failure.status, failure.message, code=failure.code)
        yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
    finally:
        close = getattr(replies, "close", None)
        if close:
            close()  # a client that hung up stops the chat function (and frees the model's slot)
        release()
    yield "data: [DONE]\n\n"


def _chain(first: Reply, rest: Iterator[Reply]) -> Iterator[Reply]:
    yield first
    yield from rest


def _event(data: BaseModel) -> str:
    return f"data: {data.model_dump_json()}\n\n"


def _json(body: BaseModel) -> Response:
    return Response(body.model_dump_json(), mimetype="application/json")


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
