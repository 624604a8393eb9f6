"""Gradio's names that programs use as type hints: ``gr.MessageDict`` in a signature, and
``oauth_token: gr.OAuthToken | None``.

webchat signs people in itself (``--auth``), so it has no Hugging Face OAuth token or profile to
give a handler: a parameter annotated with one gets None, as Gradio gives a visitor who has not
signed in (see :func:`oauth_arguments`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict


class MessageDict(TypedDict, total=False):
    """A message in Gradio's messages format, as a dict."""

    role: Literal["user", "assistant", "system"]
    content: Any
    metadata: dict[str, Any]
    options: list[dict[str, Any]]


@dataclass(frozen=True)
class OAuthToken:
    token: str
    scope: str = ""
    expires_at: int = 0


@dataclass(frozen=True)
class OAuthProfile:
    name: str = ""
    username: str = ""
    profile: dict[str, Any] = field(default_factory=dict)


OAUTH_TYPES = ("OAuthToken", "OAuthProfile")


def oauth_arguments(fn: Any, given: int) -> tuple[None, ...]:
    """None for each parameter of ``fn`` after the first ``given`` that is annotated with an
    OAuth type (Gradio fills those in itself; the caller does not pass them)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())[given:]
    except (TypeError, ValueError):
        return ()
    count = 0
    for parameter in parameters:
        annotation = parameter.annotation
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if not any(name in text for name in OAUTH_TYPES):
            break
        count += 1
    return (None,) * count
