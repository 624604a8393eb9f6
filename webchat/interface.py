"""``ChatInterface``: serve a Python chat function the way ``gr.ChatInterface`` does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask

from webchat.chat import ChatFunction
from webchat.settings import Settings
from webchat.web.services import Interface


class ChatInterface:
    """A chat page around ``fn(message, history)`` (Gradio's messages format)."""

    def __init__(
        self,
        fn: ChatFunction,
        *,
        type: str = "messages",
        title: str | None = None,
        description: str | None = None,
        examples: Sequence[Any] | None = None,
        placeholder: str | None = None,
        multimodal: bool = False,
    ) -> None:
        if type != "messages":
            raise ValueError(
                f"type={type!r} is not supported: webchat speaks Gradio's 'messages' format only"
            )
        self.fn = fn
        self.interface = Interface(
            title=title or "webchat",
            description=description or "",
            placeholder=placeholder or "Message",
            examples=tuple(_example_text(e) for e in examples or ()),
            multimodal=multimodal,
        )

    def app(self, settings: Settings | None = None) -> Flask:
        """The Flask app (for gunicorn, or to mount elsewhere)."""
        from webchat.app import create_app

        return create_app(
            settings or Settings.load(), self.fn, interface=self.interface, server_name="The chat function"
        )

    def launch(
        self,
        server_name: str | None = None,
        server_port: int | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        **_ignored: Any,
    ) -> None:
        """Serve until interrupted; prints the URL. ``server_name``/``server_port`` are Gradio's names."""
        from webchat.server import serve

        settings = Settings.load({"host": host or server_name, "port": port or server_port})
        serve(self.app(settings), settings.host, settings.port)


def _example_text(example: Any) -> str:
    if isinstance(example, dict):
        return str(example.get("text", ""))
    if isinstance(example, list | tuple):
        return str(example[0]) if example else ""
    return str(example)
