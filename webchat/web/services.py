"""What the routes use, built once by the app factory and kept on the app."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from webchat.feedback import LikeHandler
from webchat.hub import Hub
from webchat.messages import ChatMessage
from webchat.settings import Settings
from webchat.store import Conversation, Store, StoredMessage, Turn
from webchat.turns import TurnRunner


@dataclass(frozen=True)
class Interface:
    """What the page shows around the chat (Gradio's ChatInterface arguments)."""

    title: str = "webchat"
    description: str = ""
    placeholder: str = "Message"
    examples: tuple[str, ...] = ()
    multimodal: bool = False


@dataclass
class Services:
    settings: Settings
    store: Store
    hub: Hub
    runner: TurnRunner
    interface: Interface
    # Held while checking that a conversation has no running turn and starting one, so two
    # tabs sending at once cannot start two replies in the same conversation.
    turn_lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with a LikeData when a reply is liked or disliked (Gradio's ``chatbot.like``).
    on_like: LikeHandler | None = None


    def begin_turn(
        self, conversation: Conversation, inputs: list[ChatMessage], extra: tuple[Any, ...] = ()
    ) -> tuple[Turn, list[StoredMessage]]:
        """Store the user's input as a new turn and start its reply (call with ``turn_lock`` held)."""
        history = history_dicts(self.store.messages(conversation.id))
        turn = self.store.create_turn(conversation.id, conversation.owner)
        stored = self.store.append(conversation.id, inputs, turn_id=turn.id, kind="input")
        self.runner.start(turn, message_for(stored, self.interface.multimodal), history, extra)
        return turn, stored


def services() -> Services:
    return current_app.extensions["webchat"]


def message_for(inputs: list[StoredMessage], multimodal: bool) -> Any:
    """What the chat function gets as ``message``: the text, or Gradio's multimodal dict."""
    text = next((m.message.content for m in inputs if isinstance(m.message.content, str)), "")
    if not multimodal:
        return text
    files = [
        m.message.content["path"]
        for m in inputs
        if isinstance(m.message.content, dict) and "path" in m.message.content
    ]
    return {"text": text, "files": files}


def history_dicts(stored: list[StoredMessage]) -> list[dict[str, Any]]:
    """The ``history`` a chat function receives: plain message dicts, without empty error rows."""
    return [m.message.to_dict() for m in stored if not (m.status != "complete" and m.message.content == "")]
