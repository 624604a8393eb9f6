"""The turn runner: produces one reply in the background, independent of any socket.

A turn is started by the POST that stores the user's message. Its runner calls the chat
function, publishes each step of the reply to the hub and stores the final reply when it ends,
whether or not anybody is watching. A stop request may end the turn before the chat function
yields again: whoever ends the turn first stores it, the other side just stops.

Nothing a reader saw is lost when the process ends:

- while a reply streams, the reply so far is checkpointed to the store about once a second (all
  of this process's turns in one transaction, never per token), so a crash loses at most the
  last second of text;
- :meth:`TurnRunner.shutdown` (at exit: SIGTERM, a gunicorn worker's end) stores every reply it
  is writing as stopped, with its text;
- each process holds a lease (its row in the store, renewed every few seconds; with Redis, the
  hub's lease there); a running turn is abandoned only when its process's lease lapsed (on this
  host: when its process is gone), or when this process no longer runs it (a final write that
  failed), and is then stored as interrupted with its last checkpoint. So a worker starting
  beside one that drains (a reload) leaves that one's replies alone;
- a final write that fails (a locked database, a full disk) is tried again a few times here,
  then by the reaper until it succeeds, so the conversation does not stay stuck.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from webchat import aio
from webchat.chat import ChatFunction, Reply, stream_reply
from webchat.errors import describe
from webchat.hub import TurnHub
from webchat.messages import ChatMessage
from webchat.store import Store, Turn, TurnStatus, new_id
from webchat.turn_record import TurnRecord, recording

log = logging.getLogger("webchat.turns")
APPROVAL_SECONDS = 600.0  # a tool call waiting for Allow or Deny longer than this is denied
APPROVAL_POLL_SECONDS = 0.2

History = list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
INTERRUPTED = "This reply was interrupted: the server writing it stopped. Retry it."
CHECKPOINT_SECONDS = 1.0  # how much text a crash may cost at most
FINAL_WRITE_TRIES = (0.2, 0.5, 1.0)  # waits between tries of a final write that failed


def start_background(target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
    """Run ``target`` in a daemon thread, or under gevent (production) in a greenlet started
    without waiting: ``Thread.start`` waits a whole round of the event loop for the new thread,
    and a POST holding the turn lock then queued behind every streaming socket (seconds at 1000)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent  # present whenever gevent has patched threading

        gevent.spawn(target, *args)
        return
    threading.Thread(target=target, args=args, name=name, daemon=True).start()


def start_later(seconds: float, target: Callable[..., Any], *args: Any) -> None:
    """Call ``target(*args)`` in the background in ``seconds``, without blocking the caller (under
    gevent a greenlet: the caller may be a signal handler in gevent's hub, which may not wait)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent  # present whenever gevent has patched threading

        gevent.spawn_later(seconds, target, *args)
        return
    timer = threading.Timer(seconds, target, args)
    timer.daemon = True
    timer.start()


def _alive(lease: tuple[int, str] | None) -> bool:
    """Is the process holding this lease alive? On this host its pid says so at once (a crashed
    process is known dead before its lease lapses); elsewhere the lease alone tells."""
    if lease is None:
        return False
    pid, host = lease
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process of that number: alive
    return True


def _safely(job: Callable[[], Any], what: str) -> None:
    try:
        job()
    except Exception:
        log.exception("could not %s", what)


def _logged(task: Callable[[], None], turn_id: str) -> Callable[[], None]:
    def run() -> None:
        try:
            task()
        except Exception:
            log.exception("after turn %s", turn_id)

    return run


def _background(ref: weakref.ref[TurnRunner], pid: int) -> None:
    """A runner's background loop (TurnRunner.ensure_background), until the runner is gone."""
    renewed = reaped = time.monotonic()
    while True:
        time.sleep(CHECKPOINT_SECONDS)
        runner = ref()
        if runner is None or runner._background_pid != pid:
            return
        now = time.monotonic()
        _safely(runner.checkpoint, "checkpoint the replies being written")
        if now - renewed >= runner.lease_seconds / 3:
            renewed = now
            _safely(runner._renew, "renew this process's lease")
        if now - reaped >= runner.lease_seconds / 2:
            reaped = now
            _safely(lambda: runner.reap(grace=runner.lease_seconds), "check for abandoned turns")  # noqa: B023
        del runner


ReplyFiles = Callable[[Turn], Callable[[Reply], Reply]]


class TurnRunner:
    def __init__(
        self,
        store: Store,
        hub: TurnHub,
        chat_fn: ChatFunction,
        *,
        server_name: str,
        reply_files: ReplyFiles | None = None,
        lease_seconds: float = 15.0,
    ) -> None:
        """``reply_files``, called as a turn starts, returns what swaps the files in each step of
        its reply for stored copies (text-only steps pass through untouched). A process that has
        not renewed its lease for ``lease_seconds`` is taken for dead."""
        self.store = store
        self.hub = hub
        self.chat_fn = chat_fn
        self.server_name = server_name
        self.reply_files = reply_files
        self.lease_seconds = lease_seconds
        self._scopes: dict[str, aio.Scope] = {}  # the turns this process runs, by id
        self._dirty: dict[str, Reply] = {}  # replies changed since the last checkpoint
        self._background_pid = 0
        self._id, self._id_pid = new_id(), os.getpid()

    @property
    def id(self) -> str:
        """This process's runner id (a forked worker gets its own)."""
        if self._id_pid != os.getpid():
            self._id, self._id_pid = new_id(), os.getpid()
        return self._id

    def start(
        self,
        turn: Turn,
        message: Any,
        history: History,
        extra: tuple[Any, ...] = (),
        *,
        after: Callable[[], None] | None = None,
    ) -> None:
        """Produce the turn's reply in the background. ``history`` may be a function that reads
        it: it is then called by the runner, so the request that started the turn need not wait.
        ``after`` runs in the background once the reply has ended and been stored."""
        self.ensure_background()
        self.hub.open(turn)
        keep_files = self.reply_files(turn) if self.reply_files else None
        self._scopes[turn.id] = aio.Scope()
        start_background(self._run, (turn, message, history, extra, keep_files, after), f"turn-{turn.id}")

    def stop(self, turn_id: str) -> bool:
        """End a running turn now, keeping what it has produced; False if it had already ended.
        An async chat function of this process is cancelled where it awaits."""
        ended = self._finish(turn_id, "stopped")
        scope = self._scopes.get(turn_id)
        if scope is not None:
            scope.cancel()
        return ended

    def shutdown(self) -> int:
        """The process is ending: store every reply it is writing as stopped, with its text."""
        stopped = sum(self.stop(turn_id) for turn_id in list(self._scopes))
        self._background_pid = 0  # the background loop ends
        try:
            self.store.end_runner(self.id)
        except Exception:
            log.exception("could not end this runner's lease")
        if stopped:
            log.info("stored %d replies as stopped on the way out", stopped)
        return stopped

    def _run(
        self,
        turn: Turn,
        message: Any,
        history: History,
        extra: tuple[Any, ...],
        keep_files: Callable[[Reply], Reply] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        try:
            self._produce(turn, message, history, extra, keep_files)
        finally:
            self._scopes.pop(turn.id, None)
            self._dirty.pop(turn.id, None)
            if after is not None:  # behind the sockets the end of the reply woke (gevent)
                start_background(_logged(after, turn.id), (), f"after-turn-{turn.id}")

    def _produce(
        self,
        turn: Turn,
        message: Any,
        history: History,
        extra: tuple[Any, ...],
        keep_files: Callable[[Reply], Reply] | None,
    ) -> None:
        # A model server's chat function fills it (webchat.turn_record).
        with recording(turn.conversation_id) as record:
            record.approve = lambda call_id, _tool, _arguments: self._approval(turn.id, call_id)
            try:
                if callable(history):
                    history = history()
                scope = self._scopes.get(turn.id) or aio.Scope()
                with aio.cancellable(scope):  # a stop cancels what an async chat function awaits
                    replies = stream_reply(self.chat_fn, message, history, *extra)
                    try:
                        for reply in replies:
                            if keep_files:
                                reply = keep_files(reply)
                            if not self.hub.publish(turn.id, reply):
                                self._keep_record(turn, record)
                                return  # stopped: the stop request stored the reply
                            self._dirty[turn.id] = reply  # checkpointed within a second
                    finally:
                        replies.close()
            except aio.Cancelled:
                self._keep_record(turn, record)
                return  # stopped while it awaited: the stop request stored the reply
            except Exception as error:
                log.info("turn %s failed: %r", turn.id, error)
                # As the reply says it, naming the model that failed: no traceback.
                said = describe(error, server=record.server or self.server_name)
                record.failed(said)
                self._keep_record(turn, record)  # before the end is drawn, so the page shows it
                self._finish(turn.id, "error", said)
            else:
                self._keep_record(turn, record)
                self._finish(turn.id, "done")

    def _approval(self, turn_id: str, call_id: str) -> bool:
        """Wait for the person's Allow or Deny of a tool call (from any worker, through the hub);
        a stop, or no answer within APPROVAL_SECONDS, is a denial."""
        deadline = time.monotonic() + APPROVAL_SECONDS
        while time.monotonic() < deadline:
            decided = self.hub.decision(turn_id, call_id)
            if decided is not None:
                return decided
            snapshot = self.hub.get(turn_id)
            if snapshot is None or snapshot.final:
                return False
            time.sleep(APPROVAL_POLL_SECONDS)
        return False

    def _keep_record(self, turn: Turn, record: TurnRecord) -> None:
        if not record.empty:
            _safely(lambda: self.store.save_turn_record(turn.id, record.to_dict()), "store a turn record")

    def _finish(
        self, turn: Turn | str, status: TurnStatus, error: str | None = None, *, abandoned: bool = False
    ) -> bool:
        """End the turn once; ``abandoned``: its runner is gone, so end it even though no runner
        can claim it, keeping whatever the hub still has of the reply (or its last checkpoint)."""
        turn_id = turn if isinstance(turn, str) else turn.id
        known = self.hub.get(turn_id)
        snapshot = self.hub.claim_finish(turn_id, status, error) if known else None
        if snapshot is not None:
            record, reply = snapshot.turn, snapshot.reply
        elif abandoned and isinstance(turn, Turn):
            record, reply = (known.turn, known.reply) if known else (turn, self._checkpointed(turn))
            if known is not None and known.final:  # its final write failed: store it as it ended
                status, error = known.status, known.error
        else:
            return False
        stored = self._store_final(record, status, reply, error)
        if known:
            self.hub.finished(turn_id, stored or [])
        return stored is not None

    def _store_final(
        self, turn: Turn, status: TurnStatus, reply: list[ChatMessage], error: str | None
    ) -> list[Any] | None:
        """Store the final reply, trying again a few times if the store fails (the reaper goes on
        trying after that); None if another worker ended the turn first, or the store failed."""
        for wait in (*FINAL_WRITE_TRIES, None):
            try:
                stored = self.store.finish_turn(turn, status, reply, error=error)
            except Exception:
                log.exception("could not store the reply of turn %s", turn.id)
                if wait is None:
                    return None  # the turn stays running in the store: the reaper tries again
                time.sleep(wait)
                continue
            if stored is None:  # another worker ended it first: show what that one stored
                return self.store.turn_messages(turn.id, "reply")
            return stored
        return None

    def _checkpointed(self, turn: Turn) -> list[ChatMessage]:
        try:
            return self.store.checkpointed(turn.id)
        except Exception:
            log.exception("could not read the checkpoint of turn %s", turn.id)
            return []

    def reap(self, *, grace: float = 0.0, reason: str = INTERRUPTED) -> int:
        """Mark interrupted the running turns that no live runner produces, keeping their last
        checkpoint, so they can be retried from any worker: a turn of a process whose lease
        lapsed (it died), one this process no longer runs (its final write failed), and one
        older than ``grace`` seconds that no runner ever claimed. A turn that a live process
        runs is left alone, also while that process drains (a reload)."""
        # A shared hub (Redis) knows every worker's runners by their leases there; otherwise the
        # leases in the store tell which other processes are alive.
        leases = {} if self.hub.shared else self.store.live_runners(self.lease_seconds)
        count = 0
        for turn in self.store.running_turns():
            if self.hub.has_runner(turn.id) or turn.id in self._scopes:
                continue
            unknown = turn.runner_id is None or self.hub.shared  # whose runner may still be starting
            if unknown and turn.created_at > time.time() - grace:
                continue
            if turn.runner_id not in (None, self.id) and _alive(leases.get(turn.runner_id)):
                continue
            if self._finish(turn, "interrupted", reason, abandoned=True):
                log.warning("turn %s had no runner left: marked interrupted", turn.id)
                count += 1
        return count

    def ensure_background(self) -> None:
        """This process's background loop, once per process (a fork starts its own): every second
        it checkpoints the replies that changed; every third of a lease it renews the lease; every
        half lease it reaps abandoned turns."""
        pid = os.getpid()
        if self._background_pid == pid:
            return
        self._background_pid = pid
        self._renew()
        # A weak reference: the loop ends with its runner (a test process builds many apps).
        loop = threading.Thread(target=_background, args=(weakref.ref(self), pid), name="webchat-runner")
        loop.daemon = True
        loop.start()

    def checkpoint(self) -> None:
        """Store the reply so far of every turn that changed since the last checkpoint."""
        dirty, self._dirty = self._dirty, {}
        if dirty:
            self.store.checkpoint(self.id, dirty)

    def _renew(self) -> None:
        if not self.hub.shared:  # a shared hub keeps its own leases
            self.store.renew_runner(self.id, os.getpid(), socket.gethostname())
