"""The hub in Redis: several workers and hosts share the live state of the replies being written.

Each turn has a small hash (its Turn, status, version counters, which process runs it) and a
stream of steps: ``r`` replaces the whole reply, ``a`` appends text to its last message, ``f``
ends it with the stored messages. The runner adds one entry per step of the chat function (one
XADD per token, and no database write); any process rebuilds the reply from the stream and
follows it with a blocking XREAD. So the socket of a turn may land on another worker or host
than its runner, and a reload resumes wherever it lands. A subscriber that fell behind gets
every entry since it last looked in one read, and the page gets the difference in one frame.

Ending a turn is a compare-and-set of the hash's status: the runner (done, error), a stop
request on any worker and the reaper of a dead runner race for it, and exactly one wins, as in
the in-process hub. The runner sees the change at its next step and quits.

Each process that runs turns renews a lease key; a turn whose runner's lease expired was left by
a process that died, and the first worker to notice marks it interrupted (``TurnRunner.reap``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from webchat.chat import Reply
from webchat.hub import KEEP_FINISHED_SECONDS, Snapshot, TurnState, is_append
from webchat.messages import message_from_dict
from webchat.store import StoredMessage, Turn, TurnStatus

log = logging.getLogger("webchat.hub")

PREFIX = "webchat:"
# A turn's keys live this long at most (a reply never takes a day); once ended, KEEP_FINISHED_SECONDS.
OPEN_SECONDS = 24 * 3600
DECISION_SECONDS = 3600  # an answer to a running turn's question is kept this long
# Mirrors of turns nobody asked about for this long are dropped from this process's memory.
FORGET_SECONDS = 600.0

# KEYS: state, log. ARGV: kind, data, layout increment. Appends a step if the turn still runs.
_PUBLISH = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
local l = redis.call('HINCRBY', KEYS[1], 'layout', tonumber(ARGV[3]))
redis.call('XADD', KEYS[2], '*', 'k', ARGV[1], 'x', ARGV[2], 'v', v, 'l', l)
return v
"""
# KEYS: state. ARGV: status, error. Ends a running turn; 1 for the one caller that did.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2])
return 1
"""
# KEYS: state, log. ARGV: stored messages (JSON), seconds to keep. Publishes the final messages.
_FINISHED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
local l = redis.call('HINCRBY', KEYS[1], 'layout', 1)
local s = redis.call('HGET', KEYS[1], 'status')
local e = redis.call('HGET', KEYS[1], 'error') or ''
redis.call('HSET', KEYS[1], 'final', '1')
redis.call('XADD', KEYS[2], '*', 'k', 'f', 'x', ARGV[1], 'v', v, 'l', l, 's', s, 'e', e)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return v
"""


class HubUnavailable(RuntimeError):
    """Redis cannot be reached or used; the text says where (without the password)."""


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def _stored_to_dict(stored: StoredMessage) -> dict[str, Any]:
    data = {f.name: getattr(stored, f.name) for f in fields(StoredMessage)}
    data["message"] = stored.message.to_dict()
    return data


def _stored_from_dict(data: dict[str, Any]) -> StoredMessage:
    return StoredMessage(**{**data, "message": message_from_dict(data["message"])})


def _turn_to_json(turn: Turn) -> str:
    return json.dumps({f.name: getattr(turn, f.name) for f in fields(Turn)})


@dataclass
class _Mirror(TurnState):
    """This process's copy of one turn, rebuilt from its stream and kept up to date."""

    last_id: str = "0-0"
    reading: bool = False  # one caller at a time blocks in XREAD; the others wait for it
    used: float = field(default_factory=time.monotonic)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def apply(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        """Apply stream entries newer than the ones already applied (call with ``changed`` held)."""
        last = _stream_id(self.last_id)
        for entry_id, data in entries:
            if _stream_id(entry_id) <= last:
                continue
            last = _stream_id(entry_id)
            self.last_id = entry_id
            kind = data.get("k")
            if kind == "o":
                continue
            if kind == "a" and self.reply and isinstance(self.reply[-1].content, str):
                tail = self.reply[-1]
                self.reply = [*self.reply[:-1], replace(tail, content=tail.content + data["x"])]
            elif kind == "r":
                self.reply = [message_from_dict(m) for m in json.loads(data["x"])]
            elif kind == "f":
                self.stored = tuple(_stored_from_dict(m) for m in json.loads(data["x"]))
                self.status = data.get("s", "done")  # type: ignore[assignment]
                self.error = data.get("e") or None
                self.final = True
            self.version = int(data.get("v", self.version))
            self.layout = int(data.get("l", self.layout))
        self.used = time.monotonic()


class RedisHub:
    """The hub for several workers and hosts; same methods as the in-process ``Hub``."""

    shared = True

    def __init__(self, url: str, *, lease_seconds: float = 15.0) -> None:
        try:
            import redis  # optional (webchat[redis]): only --redis-url needs it
        except ImportError:  # pragma: no cover - the extra is missing
            raise HubUnavailable(
                "--redis-url needs the redis package: pip install 'webchat[redis]'"
            ) from None
        self.url = url
        self.lease_seconds = lease_seconds
        try:
            self.redis = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
            self.redis.ping()
        except (redis.RedisError, ValueError) as error:
            raise HubUnavailable(f"cannot use Redis at {shown_url(url)}: {error}") from None
        self._publish = self.redis.register_script(_PUBLISH)
        self._claim = self.redis.register_script(_CLAIM)
        self._finished = self.redis.register_script(_FINISHED)
        self._mirrors: dict[str, _Mirror] = {}
        self._published: dict[str, Reply] = {}  # what this process's runners last published
        self._lock = threading.Lock()
        self._instance = ""
        self._beat_pid = 0

    # Keys (the braces keep a turn's two keys in one Redis Cluster slot, for the scripts)

    @staticmethod
    def _state_key(turn_id: str) -> str:
        return f"{PREFIX}turn:{{{turn_id}}}"

    @staticmethod
    def _log_key(turn_id: str) -> str:
        return f"{PREFIX}turn:{{{turn_id}}}:log"

    @staticmethod
    def _runner_key(instance: str) -> str:
        return f"{PREFIX}runner:{instance}"

    # The runner's side

    def open(self, turn: Turn) -> None:
        instance = self._heartbeat()
        state, log_key = self._state_key(turn.id), self._log_key(turn.id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(state, log_key)
            pipe.hset(
                state,
                mapping={
                    "turn": _turn_to_json(turn),
                    "status": "running",
                    "error": "",
                    "version": 0,
                    "layout": 0,
                    "final": "0",
                    "runner": instance,
                },
            )
            pipe.xadd(log_key, {"k": "o"})
            pipe.expire(state, OPEN_SECONDS)
            pipe.expire(log_key, OPEN_SECONDS)
            pipe.execute()
        self._published[turn.id] = []

    def publish(self, turn_id: str, reply: Reply) -> bool:
        """Add one step; False once the turn has ended (stopped anywhere), so the runner quits."""
        last = self._published.get(turn_id, [])
        appended = is_append(last, reply)
        if appended and last:
            kind, data = "a", reply[-1].text[len(last[-1].text) :]
        else:
            kind, data = "r", json.dumps([m.to_dict() for m in reply], ensure_ascii=False)
        keys = [self._state_key(turn_id), self._log_key(turn_id)]
        if not self._publish(keys=keys, args=[kind, data, 0 if appended else 1]):
            self._published.pop(turn_id, None)
            return False
        self._published[turn_id] = reply
        return True

    def claim_finish(self, turn_id: str, status: TurnStatus, error: str | None = None) -> Snapshot | None:
        if not self._claim(keys=[self._state_key(turn_id)], args=[status, error or ""]):
            return None
        self._published.pop(turn_id, None)
        mirror = self._mirror(turn_id)
        if mirror is None:
            return None
        self._catch_up(mirror)  # nothing can be added after the claim: this is the whole reply
        return replace(mirror.snapshot(), status=status, error=error)

    def finished(self, turn_id: str, stored: list[StoredMessage]) -> None:
        data = json.dumps([_stored_to_dict(s) for s in stored], ensure_ascii=False)
        keys = [self._state_key(turn_id), self._log_key(turn_id)]
        self._finished(keys=keys, args=[data, int(KEEP_FINISHED_SECONDS)])
        self._published.pop(turn_id, None)

    def decide(self, turn_id: str, key: str, allowed: bool) -> None:
        self.redis.set(f"webchat:decision:{turn_id}:{key}", "1" if allowed else "0", ex=DECISION_SECONDS)

    def decision(self, turn_id: str, key: str) -> bool | None:
        value = self.redis.get(f"webchat:decision:{turn_id}:{key}")
        return None if value is None else value == "1"

    def has_runner(self, turn_id: str) -> bool:
        """Is a live process still producing this turn? False once it ended, or its runner died."""
        runner, final = self.redis.hmget(self._state_key(turn_id), ["runner", "final"])
        if not runner or final == "1":
            return False
        return bool(self.redis.exists(self._runner_key(runner)))

    def _heartbeat(self) -> str:
        """This process's id, with a lease renewed in the background while the process lives."""
        pid = os.getpid()
        with self._lock:
            if self._beat_pid != pid:  # first turn here, or a fork since: a new identity
                self._beat_pid = pid
                self._instance = f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"
                self.redis.set(self._runner_key(self._instance), "1", ex=self._lease())
                threading.Thread(
                    target=self._renew, args=(self._instance, pid), name="webchat-lease", daemon=True
                ).start()
            return self._instance

    def _lease(self) -> int:
        return max(1, round(self.lease_seconds))

    def _renew(self, instance: str, pid: int) -> None:
        while self._beat_pid == pid:
            try:
                self.redis.set(self._runner_key(instance), "1", ex=self._lease())
            except Exception as error:  # Redis briefly away: try again; the lease may lapse
                log.warning("could not renew this process's lease in Redis: %s", error)
            time.sleep(self.lease_seconds / 3)

    # The subscribers' side

    def get(self, turn_id: str) -> Snapshot | None:
        mirror = self._mirror(turn_id)
        if mirror is None:
            return None
        self._catch_up(mirror)
        with mirror.changed:
            return mirror.snapshot()

    def wait(self, turn_id: str, after_version: int, timeout: float) -> Snapshot | None:
        """Block until the turn changes past ``after_version`` (or ``timeout``), then snapshot it."""
        mirror = self._mirror(turn_id)
        if mirror is None:
            return None
        deadline = time.monotonic() + timeout
        self._catch_up(mirror)
        while True:
            with mirror.changed:
                if mirror.version > after_version or mirror.final:
                    return mirror.snapshot()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if mirror.reading:
                    mirror.changed.wait(remaining)
                    continue
                mirror.reading = True
                since = mirror.last_id
            entries: list[tuple[str, dict[str, str]]] = []
            try:
                entries = self._read(turn_id, since, block_ms=max(1, int(remaining * 1000)))
            finally:
                with mirror.changed:
                    mirror.apply(entries)
                    mirror.reading = False
                    mirror.changed.notify_all()
        if not self.redis.exists(self._state_key(turn_id)):
            return None  # forgotten (expired): nothing more will come
        with mirror.changed:
            return mirror.snapshot()

    def wait_final(self, turn_id: str, timeout: float) -> Snapshot | None:
        deadline = time.monotonic() + timeout
        version = -1
        while True:
            snapshot = self.wait(turn_id, version, max(0.0, deadline - time.monotonic()))
            if snapshot is None or snapshot.final or time.monotonic() >= deadline:
                return snapshot
            version = snapshot.version

    def _mirror(self, turn_id: str) -> _Mirror | None:
        with self._lock:
            mirror = self._mirrors.get(turn_id)
        if mirror is not None:
            return mirror
        raw = self.redis.hget(self._state_key(turn_id), "turn")
        if raw is None:
            return None
        fresh = _Mirror(turn=Turn(**json.loads(raw)))
        with self._lock:
            self._forget_old()
            return self._mirrors.setdefault(turn_id, fresh)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for turn_id, mirror in list(self._mirrors.items()):
            idle = now - mirror.used
            if (mirror.final and idle > KEEP_FINISHED_SECONDS) or idle > FORGET_SECONDS:
                del self._mirrors[turn_id]

    def _catch_up(self, mirror: _Mirror) -> None:
        """Apply whatever the stream has beyond the mirror, without blocking."""
        with mirror.changed:
            since = mirror.last_id
        entries = self._read(mirror.turn.id, since, block_ms=None)
        if entries:
            with mirror.changed:
                mirror.apply(entries)
                mirror.changed.notify_all()

    def _read(self, turn_id: str, since: str, block_ms: int | None) -> list[tuple[str, dict[str, str]]]:
        answer = self.redis.xread({self._log_key(turn_id): since}, block=block_ms)
        return [entry for _key, entries in answer or [] for entry in entries]

    def stop_lease(self) -> None:
        """Stop renewing this process's lease (its turns count as abandoned once it lapses)."""
        self._beat_pid = 0

    def close(self) -> None:
        self.stop_lease()
        self.redis.close()
