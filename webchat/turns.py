"""The turn runner: produces one reply in the background, independent of any socket.

A turn is started by the POST that stores the user's message. Its runner calls the chat
function, publishes each step of the reply to the hub and stores the final reply when it ends,
whether or not anybody is watching. A stop request may end the turn before the chat function
yields again: whoever ends the turn first stores it, the other side just stops.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from webchat import aio
from webchat.chat import ChatFunction, Reply, stream_reply
from webchat.errors import describe
from webchat.hub import TurnHub
from webchat.store import Store, Turn, TurnStatus

log = logging.getLogger("webchat.turns")

History = list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
INTERRUPTED = "This reply was interrupted: the server writing it stopped. Retry it."


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


def _logged(task: Callable[[], None], turn_id: str) -> Callable[[], None]:
    def run() -> None:
        try:
            task()
        except Exception:
            log.exception("after turn %s", turn_id)

    return run


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
    ) -> None:
        """``reply_files``, called as a turn starts, returns what swaps the files in each step of
        its reply for stored copies (text-only steps pass through untouched)."""
        self.store = store
        self.hub = hub
        self.chat_fn = chat_fn
        self.server_name = server_name
        self.reply_files = reply_files
        self._reaper_pid = 0
        self._scopes: dict[str, aio.Scope] = {}  # the turns this process runs, by id

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
        self.hub.open(turn)
        keep_files = self.reply_files(turn) if self.reply_files else None
        start_background(self._run, (turn, message, history, extra, keep_files, after), f"turn-{turn.id}")

    def stop(self, turn_id: str) -> bool:
        """End a running turn now, keeping what it has produced; False if it had already ended.
        An async chat function of this process is cancelled where it awaits."""
        ended = self._finish(turn_id, "stopped")
        scope = self._scopes.get(turn_id)
        if scope is not None:
            scope.cancel()
        return ended

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
        try:
            if callable(history):
                history = history()
            with aio.cancellable() as scope:  # a stop cancels what an async chat function awaits
                self._scopes[turn.id] = scope
                replies = stream_reply(self.chat_fn, message, history, *extra)
                try:
                    for reply in replies:
                        if keep_files:
                            reply = keep_files(reply)
                        if not self.hub.publish(turn.id, reply):
                            return  # stopped: the stop request stored the reply
                finally:
                    self._scopes.pop(turn.id, None)
                    replies.close()
        except aio.Cancelled:
            return  # stopped while it awaited: the stop request stored the reply
        except Exception as error:
            log.info("turn %s failed: %r", turn.id, error)
            self._finish(turn.id, "error", describe(error, server=self.server_name))
        else:
            self._finish(turn.id, "done")

    def _finish(
        self, turn: Turn | str, status: TurnStatus, error: str | None = None, *, abandoned: bool = False
    ) -> bool:
        """End the turn once; ``abandoned``: its runner is gone, so end it even though no runner
        can claim it, keeping whatever the hub still has of the reply."""
        turn_id = turn if isinstance(turn, str) else turn.id
        known = self.hub.get(turn_id)
        snapshot = self.hub.claim_finish(turn_id, status, error) if known else None
        if snapshot is not None:
            record, reply = snapshot.turn, snapshot.reply
        elif abandoned and isinstance(turn, Turn):
            record, reply = (known.turn, known.reply) if known else (turn, [])
        else:
            return False
        ended_here = True
        try:
            stored = self.store.finish_turn(record, status, reply, error=error)
            if stored is None:  # another worker ended it first: show what that one stored
                ended_here = False
                stored = self.store.turn_messages(turn_id, "reply")
        except Exception:
            log.exception("could not store the reply of turn %s", turn_id)
            stored = []
        if known:
            self.hub.finished(turn_id, stored)
        return ended_here

    def reap(self, *, grace: float = 0.0, reason: str = INTERRUPTED) -> int:
        """Mark interrupted the running turns that no live runner produces (the server restarted,
        or, with a shared hub, the worker running them died), so they can be retried from any
        worker. Turns younger than ``grace`` seconds are left alone: their runner may be starting."""
        count = 0
        for turn in self.store.running_turns():
            if turn.created_at > time.time() - grace or self.hub.has_runner(turn.id):
                continue
            if self._finish(turn, "interrupted", reason, abandoned=True):
                log.warning("turn %s had no runner left: marked interrupted", turn.id)
                count += 1
        return count

    def ensure_reaper(self, every: float, grace: float) -> None:
        """Reap in the background of this process (once per process: a fork starts its own)."""
        pid = os.getpid()
        if self._reaper_pid == pid:
            return
        self._reaper_pid = pid

        def loop() -> None:
            while self._reaper_pid == pid:
                time.sleep(every)
                try:
                    self.reap(grace=grace)
                except Exception:
                    log.exception("could not check for abandoned turns")

        threading.Thread(target=loop, name="webchat-reaper", daemon=True).start()
