"""webchat: a self-hosted LLM chat web app, and a drop-in for Gradio's messages-format chat API."""

from typing import Any

from webchat.errors import Error
from webchat.messages import ChatMessage, FileData, MessageError
from webchat.settings import Settings

__all__ = ["ChatInterface", "ChatMessage", "Error", "FileData", "MessageError", "Settings", "create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The web layer (Flask, the model backends) loads only when a program asks for it.
    if name == "create_app":
        from webchat.app import create_app

        return create_app
    if name == "ChatInterface":
        from webchat.interface import ChatInterface

        return ChatInterface
    raise AttributeError(f"module 'webchat' has no attribute {name!r}")
