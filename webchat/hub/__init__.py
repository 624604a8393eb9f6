"""The live state of replies being produced, shared by the turn runner and the sockets watching it.

This package holds the contract, :class:`TurnHub`, and what every hub shares; ``memory.Hub``
keeps turns in this process, ``redis.RedisHub`` in Redis for several workers and hosts. Callers
hold a ``TurnHub`` and never know which one it is.

The hub holds the reply *so far* for each running turn, not a log of events: a subscriber
compares what it has sent with the current state and sends the difference. Tokens that arrive
while a subscriber is busy therefore go out together in one frame, and a subscriber that joins
late (a reload, a second tab, a reconnect) starts from the current state.
"""

from __future__ import annotations

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
    and hosts (webchat/hub/redis.py). ``shared`` says whether other processes see the same turns."""

    shared: bool

    def open(self, turn: Turn) -> None: ...
    def get(self, turn_id: str) -> Snapshot | None: ...
    def publish(self, turn_id: str, reply: Reply) -> bool: ...
    def claim_finish(self, turn_id: str, status: TurnStatus, error: str | None = None) -> Snapshot | None: ...
    def finished(self, turn_id: str, stored: list[StoredMessage]) -> None: ...
    def wait(self, turn_id: str, after_version: int, timeout: float) -> Snapshot | None: ...
    def wait_final(self, turn_id: str, timeout: float) -> Snapshot | None: ...
    def has_runner(self, turn_id: str) -> bool: ...
    # A person's answer to a question a running turn asks (a tool call to allow): set by the
    # request that answers, read by the runner, in whatever worker each runs.
    def decide(self, turn_id: str, key: str, allowed: bool) -> None: ...
    def decision(self, turn_id: str, key: str) -> bool | None: ...
