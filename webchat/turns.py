"""The turn runner: produces one reply in the background, independent of any socket.

A turn is started by the POST that stores the user's message. Its runner calls the chat
function, publishes each step of the reply to the hub and stores the final reply when it ends,
whether or not anybody is watching. A stop request may end the turn before the chat function
yields again: whoever ends the turn first stores it, the other side just stops.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from webchat.chat import ChatFunction, stream_reply
from webchat.errors import describe
from webchat.hub import Hub
from webchat.store import Store, Turn, TurnStatus

log = logging.getLogger("webchat.turns")


class TurnRunner:
    def __init__(self, store: Store, hub: Hub, chat_fn: ChatFunction, *, server_name: str) -> None:
        self.store = store
        self.hub = hub
        self.chat_fn = chat_fn
        self.server_name = server_name

    def start(
        self, turn: Turn, message: Any, history: list[dict[str, Any]], extra: tuple[Any, ...] = ()
    ) -> None:
        self.hub.open(turn)
        thread = threading.Thread(
            target=self._run, args=(turn, message, history, extra), name=f"turn-{turn.id}", daemon=True
        )
        thread.start()

    def stop(self, turn_id: str) -> bool:
        """End a running turn now, keeping what it has produced; False if it had already ended."""
        return self._finish(turn_id, "stopped")

    def _run(self, turn: Turn, message: Any, history: list[dict[str, Any]], extra: tuple[Any, ...]) -> None:
        try:
            replies = stream_reply(self.chat_fn, message, history, *extra)
            try:
                for reply in replies:
                    if not self.hub.publish(turn.id, reply):
                        return  # stopped: the stop request stored the reply
            finally:
                replies.close()
        except Exception as error:
            log.info("turn %s failed: %r", turn.id, error)
            self._finish(turn.id, "error", describe(error, server=self.server_name))
        else:
            self._finish(turn.id, "done")

    def _finish(self, turn_id: str, status: TurnStatus, error: str | None = None) -> bool:
        if self.hub.get(turn_id) is None:
            return False
        snapshot = self.hub.claim_finish(turn_id, status, error)
        if snapshot is None:
            return False
        try:
            stored = self.store.finish_turn(snapshot.turn, status, snapshot.reply, error=error)
        except Exception:
            log.exception("could not store the reply of turn %s", turn_id)
            stored = []
        self.hub.finished(turn_id, stored)
        return True
