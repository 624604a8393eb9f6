"""Errors, worded for the person reading the chat: what happened, and what they can do."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

log = logging.getLogger("webchat")


class Error(Exception):
    """Raise it from a chat function to show its message in the chat (Gradio's ``gr.Error``)."""

    def __init__(
        self,
        message: str = "Error",
        duration: float | None = None,
        visible: bool = True,
        title: str = "Error",
        print_exception: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.title = title


class UnsupportedError(NotImplementedError):
    """A Gradio feature that webchat does not have; raised while the program builds, never later."""


class Refused(ValueError):
    """A request refused for a reason the person can act on: ``message`` says what and what to do
    (shown next to the composer, or as the API's error), ``status`` is the HTTP status to answer.
    Whatever the person had (their text, files, conversation) stays as it was."""

    status = 422

    def __init__(self, message: str, status: int | None = None, *, where: str | None = None) -> None:
        """``where``: the field at fault, for the API's ``param`` (``messages[2].content``)."""
        super().__init__(message)
        self.message = message
        self.where = where
        if status is not None:
            self.status = status


class InputError(Refused):
    """A posted value that a form control refuses, or a message that breaks a rule."""


def too_long(
    text: str, limit: int, what: str = "This message", *, where: str | None = None
) -> InputError | None:
    """The message-length rule, worded once for every way a message comes in (None: it fits)."""
    if len(text) <= limit:
        return None
    return InputError(f"{what} is {len(text):,} characters long; the limit is {limit:,}.", 413, where=where)


# Matched by class name: huggingface_hub 0.x raises requests' exceptions, 1.x httpx's, 2.x httpx2's.
_UNREACHABLE = {"ConnectError", "ConnectionError", "ConnectTimeout", "NewConnectionError"}
_TIMEOUT = {
    "ReadTimeout",
    "InferenceTimeoutError",
    "Timeout",
    "TimeoutException",
    "PoolTimeout",
    "WriteTimeout",
    "TimeoutError",
}
_CUT_OFF = {
    "RemoteProtocolError",
    "ReadError",
    "ChunkedEncodingError",
    "StreamClosed",
    "IncompleteRead",
    "ProtocolError",
}


def describe(error: BaseException, *, server: str = "The model server") -> str:
    """A one-paragraph explanation of why a reply failed, safe to show to the user."""
    if isinstance(error, Error):
        return error.message
    names = {cls.__name__ for cls in type(error).__mro__}
    status = _status_code(error)
    if status is not None:
        detail = _server_message(error)
        if is_image_refusal(error):
            return (
                f"{server} cannot read images: the model has no vision support. {detail} Retry, or send "
                "another message: from now on images are described to it by name only."
            ).replace("  ", " ")
        if status in (401, 403):
            advice = "check the access token (HF_TOKEN)"
            return f"{server} refused the request ({status}): {advice}. {detail}".strip()
        if status == 429:
            return f"{server} is rate-limiting requests (429). Wait a moment, then retry. {detail}".strip()
        if 400 <= status < 500:
            return f"{server} refused the request ({status}). {detail}".strip()
        return f"{server} failed while answering ({status}). {detail}".strip()
    if "ModelStreamError" in names:  # webchat.backends.inference: the stream broke or ended early
        return f"{server} {error}. Retry."
    if names & _UNREACHABLE:
        return f"{server} cannot be reached (connection refused). Check that it is running, then retry."
    if names & _TIMEOUT:
        return f"{server} did not answer in time. Retry, or check that it is not overloaded."
    if names & _CUT_OFF:
        return f"{server} closed the connection before the reply was complete. Retry."
    log.error("chat function failed", exc_info=error)
    return f"The chat function failed ({type(error).__name__}). The details are in the server log."


# llama.cpp without a projector: 500 "image input is not supported"; others word it their way.
_IMAGE_REFUSAL = re.compile(
    r"(image|vision|multimodal)[^.]{0,40}(not supported|unsupported)|(does not|doesn't|cannot) "
    r"(support|accept|handle) (image|vision|multimodal)",
    re.IGNORECASE,
)


def is_image_refusal(error: BaseException) -> bool:
    """Did a model server refuse a request because it had images in it?"""
    status = _status_code(error)
    if status is None or status < 400:
        return False
    return bool(_IMAGE_REFUSAL.search(_server_message(error) or str(error)))


def _status_code(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _server_message(error: BaseException) -> str:
    """The model server's own words (OpenAI/TGI/llama.cpp put them in a JSON 'error' field)."""
    response: Any = getattr(error, "response", None)
    try:
        body = json.loads(response.text)
    except Exception:
        body = None
    message = None
    if isinstance(body, dict):
        inner = body.get("error")
        message = inner.get("message") if isinstance(inner, dict) else inner
        message = message or body.get("message") or body.get("detail")
    if not isinstance(message, str) or not message.strip():
        return ""
    message = " ".join(message.split())
    return ("It said: " + message[:300]).rstrip(".") + "."
