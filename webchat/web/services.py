"""What the routes use, built once by the app factory and kept on the app."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from webchat.history import HistoryCache
from webchat.hub import TurnHub
from webchat.limits import RateWindow, SlidingWindow, Slots, check_turn_limits
from webchat.messages import ChatMessage
from webchat.settings import Settings
from webchat.store import Conversation, Store, StoredMessage, Turn
from webchat.turns import TurnRunner
from webchat.web.page import LikeHandler, Page


@dataclass
class Services:
    settings: Settings
    store: Store
    hub: TurnHub
    runner: TurnRunner
    page: Page
    # Held while checking that a conversation has no running turn and starting one, so two
    # tabs sending at once cannot start two replies in the same conversation.
    turn_lock: threading.Lock = field(default_factory=threading.Lock)
    rate: RateWindow = field(default_factory=lambda: SlidingWindow(0))
    sockets: Slots = field(default_factory=lambda: Slots(0))
    # Called when a reply is liked or disliked (Gradio's ``chatbot.like``).
    on_like: LikeHandler | None = None
    # Chat functions' histories, decoded once per conversation and extended (see webchat.history).
    histories: HistoryCache | None = None

    def begin_turn(
        self,
        conversation: Conversation,
        inputs: list[ChatMessage],
        extra: tuple[Any, ...] = (),
        *,
        replacing: Turn | None = None,
    ) -> tuple[Turn, list[StoredMessage]]:
        """Store the user's input as a new turn and start its reply (call with ``turn_lock`` held).

        ``replacing``: an edit, which removes that turn and all after it, but only once the new
        turn exists (TurnBusy, when another worker started one, must leave everything as it was).
        """
        check_turn_limits(
            self.rate,
            conversation.owner,
            self.store.count_running_turns(conversation.owner),
            self.settings.max_running_turns,
        )
        turn = self.store.create_turn(conversation.id, conversation.owner)
        if replacing is not None:
            self.store.remove_turns_from(replacing)
        stored = self.store.append(conversation.id, inputs, turn_id=turn.id, kind="input")
        if extra:
            self.store.save_turn_inputs(turn.id, extra)
        if self.histories is None:
            self.histories = HistoryCache(self.store)
        histories, before = self.histories, stored[0].id

        def history() -> list[dict[str, Any]]:
            # Read by the runner, not here: the POST answers at once however long the conversation.
            return histories.load(conversation.id, before_id=before)

        self.runner.start(
            turn,
            message_for(stored, self.page.multimodal),
            history,
            extra,
            after=lambda: histories.prepare(conversation.id),  # the next reply's history, copied now
        )
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
