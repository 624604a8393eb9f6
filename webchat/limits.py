"""Per-owner and per-client limits on how fast and how much a session may ask of the model.

They protect the model server (and other users' replies) from one runaway tab or script. Each
limit is kept twice: per owner (a session or a user), and per client address, so that a client
that drops its cookie (a new session each time) gets no fresh limits. The per-client limits are
higher: several people may share an address (an office behind one NAT).

The message rate is counted in this process, or with ``--redis-url`` in Redis, so that every
worker and host shares one count per key. Open sockets and uploaded bytes are counted per process.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections import deque
from typing import Any, Protocol

from werkzeug.exceptions import TooManyRequests

log = logging.getLogger("webchat.limits")


class SlidingWindow:
    """At most ``limit`` events per ``seconds`` for each key."""

    def __init__(self, limit: int, seconds: float = 60.0) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Record an event; returns 0, or the seconds to wait when the limit is reached."""
        return self.add(key, 1)

    def add(self, key: str, amount: int) -> float:
        """Record ``amount`` (events, or bytes); 0, or the seconds until it would fit. Nothing is
        recorded when it does not fit."""
        if self.limit <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0][0] >= self.seconds:
                events.popleft()
            used = sum(weight for _, weight in events)
            if used + amount > self.limit:
                return self.seconds - (now - events[0][0]) if events else self.seconds
            events.append((now, amount))
            if len(self._events) > 10_000:  # forget idle keys now and then
                self._events = {k: v for k, v in self._events.items() if v and now - v[-1][0] < self.seconds}
            return 0.0


class RateWindow(Protocol):
    limit: int

    def hit(self, key: str) -> float:
        """Record an event; returns 0, or the seconds to wait when the limit is reached."""
        ...


# KEYS: the owner's events. ARGV: window in ms, limit, a unique member. Redis's clock, so that
# hosts whose clocks differ still share one window. Returns the ms to wait, or 0 (recorded).
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, window - (now - tonumber(oldest[2])))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RedisWindow:
    """SlidingWindow's count kept in Redis: one limit per owner across every worker and host."""

    def __init__(self, redis: Any, limit: int, seconds: float = 60.0, prefix: str = "webchat:rate:") -> None:
        self.limit = limit
        self.seconds = seconds
        self.prefix = prefix
        self._hit = redis.register_script(_HIT)

    def hit(self, key: str) -> float:
        if self.limit <= 0:
            return 0.0
        try:
            wait_ms = self._hit(
                keys=[self.prefix + key], args=[int(self.seconds * 1000), self.limit, secrets.token_hex(8)]
            )
        except Exception:  # the hub reports Redis being down; a limit must not stop every message
            log.exception("could not count messages in Redis; this one is let through")
            return 0.0
        return int(wait_ms) / 1000


class Slots:
    """At most ``limit`` things held at once per key (open sockets per owner)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> bool:
        with self._lock:
            held = self._held.get(key, 0)
            if self.limit > 0 and held >= self.limit:
                return False
            self._held[key] = held + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            held = self._held.get(key, 0) - 1
            if held > 0:
                self._held[key] = held
            else:
                self._held.pop(key, None)


class TooFast(TooManyRequests):
    """429 with the wait in words and in ``Retry-After``."""

    def __init__(self, description: str, retry_after: float) -> None:
        super().__init__(description=description)
        self.retry_after = max(1, math.ceil(retry_after))

    def get_headers(self, environ=None, scope=None):  # type: ignore[no-untyped-def,override]
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


def check_turn_limits(window: RateWindow, owner: str, running: int, max_running: int) -> None:
    """Raise TooFast when this owner may not start another reply now."""
    if max_running > 0 and running >= max_running:
        raise TooFast(
            f"{running} replies are still being written in your conversations; wait for one to finish "
            "or stop it, then send again.",
            5,
        )
    wait = window.hit(owner)
    if wait:
        raise TooFast(
            f"You are sending messages faster than {window.limit} a minute. Wait {math.ceil(wait)} s, "
            "then send again; your message is still in the box.",
            wait,
        )


def check_client_limits(window: RateWindow, client: str, running: int, max_running: int) -> None:
    """Raise TooFast when this client address may not start another reply now (any session)."""
    if max_running > 0 and running >= max_running:
        raise TooFast(
            f"{running} replies are being written for your network address (all its sessions); wait "
            "for one to finish, then send again.",
            5,
        )
    wait = window.hit(client)
    if wait:
        raise TooFast(
            f"Your network address is sending messages faster than {window.limit} a minute (all its "
            f"sessions together). Wait {math.ceil(wait)} s, then send again; your message is still "
            "in the box.",
            wait,
        )
