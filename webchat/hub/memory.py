"""The in-process hub: the runner and the sockets of a turn live in one process."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from webchat.chat import Reply
from webchat.hub import KEEP_FINISHED_SECONDS, Snapshot, TurnState, is_append
from webchat.store import StoredMessage, Turn, TurnStatus


@dataclass
class _Live(TurnState):
    finished_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set once when the turn changes, then replaced: waiters take the current event and check the
    # version, so none misses a change. Under gevent an Event costs a fraction of a Condition
    # (measured ~5 vs ~30 µs a wake-up), and this runs for every token of every reply.
    event: threading.Event = field(default_factory=threading.Event)

    def changed(self) -> None:
        """Wake everybody waiting for this turn (call with ``lock`` held, after changing it)."""
        self.version += 1
        event, self.event = self.event, threading.Event()
        event.set()


class Hub:
    """In-process hub: the runner and the sockets of one turn live in the same process."""

    shared = False

    def __init__(self) -> None:
        self._turns: dict[str, _Live] = {}
        self._decisions: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def decide(self, turn_id: str, key: str, allowed: bool) -> None:
        with self._lock:
            self._decisions[(turn_id, key)] = allowed

    def decision(self, turn_id: str, key: str) -> bool | None:
        return self._decisions.get((turn_id, key))

    def has_runner(self, turn_id: str) -> bool:
        """Is a runner in this process still producing the turn? (Not: after a restart.)"""
        live = self._turns.get(turn_id)
        return live is not None and not live.final

    def open(self, turn: Turn) -> None:
        with self._lock:
            self._prune()
            self._turns[turn.id] = _Live(turn)

    def get(self, turn_id: str) -> Snapshot | None:
        live = self._turns.get(turn_id)
        if live is None:
            return None
        with live.lock:
            return live.snapshot()

    def publish(self, turn_id: str, reply: Reply) -> bool:
        """Set the reply so far; False once the turn has ended (stopped), so the runner quits."""
        live = self._turns[turn_id]
        with live.lock:
            if live.status != "running":
                return False
            if not is_append(live.reply, reply):
                live.layout += 1
            live.reply = reply
            live.changed()
        return True

    def claim_finish(self, turn_id: str, status: TurnStatus, error: str | None = None) -> Snapshot | None:
        """End the turn once: the runner (done, error) and a stop request race for this, and only
        the first one gets the snapshot to store; the other gets None."""
        live = self._turns[turn_id]
        with live.lock:
            if live.status != "running" or live.finished_at is not None:
                return None
            live.finished_at = time.monotonic()
            live.status = status
            live.error = error
            return live.snapshot()

    def finished(self, turn_id: str, stored: list[StoredMessage]) -> None:
        """Publish the stored final messages; subscribers render them and close."""
        live = self._turns[turn_id]
        with live.lock:
            live.stored = tuple(stored)
            live.final = True
            live.layout += 1
            live.changed()

    def wait(self, turn_id: str, after_version: int, timeout: float) -> Snapshot | None:
        """Block until the turn changes past ``after_version`` (or ``timeout``), then snapshot it."""
        live = self._turns.get(turn_id)
        if live is None:
            return None
        event = live.event  # before the version: a change after this line sets this event
        if live.version <= after_version:
            event.wait(timeout)
        with live.lock:
            return live.snapshot()

    def wait_final(self, turn_id: str, timeout: float) -> Snapshot | None:
        """Block until the turn's reply is stored (for a browser without JavaScript)."""
        live = self._turns.get(turn_id)
        if live is None:
            return None
        deadline = time.monotonic() + timeout
        while True:
            event = live.event
            remaining = deadline - time.monotonic()
            if live.final or remaining <= 0:
                break
            event.wait(remaining)
        with live.lock:
            return live.snapshot()

    def _prune(self) -> None:
        now = time.monotonic()
        for turn_id in [
            t
            for t, live in self._turns.items()
            if live.final and live.finished_at and now - live.finished_at > KEEP_FINISHED_SECONDS
        ]:
            del self._turns[turn_id]
