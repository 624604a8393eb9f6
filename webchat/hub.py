"""The live state of replies being produced, shared by the turn runner and the sockets watching it.

The hub holds the reply *so far* for each running turn, not a log of events: a subscriber
compares what it has sent with the current state and sends the difference. Tokens that arrive
while a subscriber is busy therefore go out together in one frame, and a subscriber that joins
late (a reload, a second tab, a reconnect) starts from the current state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from webchat.chat import Reply
from webchat.store import StoredMessage, Turn, TurnStatus

KEEP_FINISHED_SECONDS = 120.0


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of a turn; ``layout`` changes whenever the reply changed other than by
    text appended to its last message."""

    turn: Turn
    reply: Reply
    version: int
    layout: int
    status: TurnStatus
    error: str | None
    stored: tuple[StoredMessage, ...]
    final: bool

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def tail_text(self) -> str:
        last = self.reply[-1].content if self.reply else ""
        return last if isinstance(last, str) else ""


@dataclass
class TurnState:
    """What every hub knows of a turn: the fields a Snapshot copies."""

    turn: Turn
    reply: Reply = field(default_factory=list)
    version: int = 0
    layout: int = 0
    status: TurnStatus = "running"
    error: str | None = None
    stored: tuple[StoredMessage, ...] = ()
    final: bool = False

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.turn,
            self.reply,
            self.version,
            self.layout,
            self.status,
            self.error,
            self.stored,
            self.final,
        )


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


def is_append(old: Reply, new: Reply) -> bool:
    """True when ``new`` only adds text to the end of ``old``'s last message."""
    if len(old) != len(new) or not old:
        return not old and len(new) == 1 and isinstance(new[0].content, str) and not new[0].metadata
    *old_head, old_last = old
    *new_head, new_last = new
    return (
        old_head == new_head
        and isinstance(old_last.content, str)
        and isinstance(new_last.content, str)
        and new_last.content.startswith(old_last.content)
        and (old_last.role, old_last.metadata, old_last.options)
        == (new_last.role, new_last.metadata, new_last.options)
    )


class TurnHub(Protocol):
    """What the runner and the sockets use: ``Hub`` in one process, ``RedisHub`` across workers
    and hosts (webchat/hub_redis.py). ``shared`` says whether other processes see the same turns."""

    shared: bool

    def open(self, turn: Turn) -> None: ...
    def get(self, turn_id: str) -> Snapshot | None: ...
    def publish(self, turn_id: str, reply: Reply) -> bool: ...
    def claim_finish(self, turn_id: str, status: TurnStatus, error: str | None = None) -> Snapshot | None: ...
    def finished(self, turn_id: str, stored: list[StoredMessage]) -> None: ...
    def wait(self, turn_id: str, after_version: int, timeout: float) -> Snapshot | None: ...
    def wait_final(self, turn_id: str, timeout: float) -> Snapshot | None: ...
    def has_runner(self, turn_id: str) -> bool: ...


class Hub:
    """In-process hub: the runner and the sockets of one turn live in the same process."""

    shared = False

    def __init__(self) -> None:
        self._turns: dict[str, _Live] = {}
        self._lock = threading.Lock()

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
