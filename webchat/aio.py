"""The one asyncio event loop that async chat functions run on, in a real thread of its own.

asyncio allows one running loop per OS thread. A loop per reply works with threads (the
development server), but under ``--production`` every reply runs in a greenlet of gevent's one OS
thread, and a second reply's loop fails while the first one's runs ("Cannot run the event loop
while another loop is running"). So coroutines and async generators all run on one loop per
process, in its own OS thread (started with the unpatched ``_thread`` under gevent), and the
caller waits for each step without holding up anything else: a worker thread blocks on the step's
future; a greenlet waits on a gevent event that the loop thread sets through the hub's
thread-safe callback, so the worker keeps serving every other request and socket meanwhile.

A stop need not wait for the function's next yield: the turn runner runs it inside
:func:`cancellable`, and :meth:`Scope.cancel` cancels the step being awaited (the function sees
``CancelledError`` where it awaits, and its ``finally`` blocks run), as Gradio's cancel does.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """The step was cancelled by a stop (the reply has been stored already)."""


class Scope:
    """What one stop cancels: the step that the chat function of one turn is awaiting."""

    def __init__(self) -> None:
        self.cancelled = False
        self._future: concurrent.futures.Future[Any] | None = None
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            future = self._future
        if future is not None:
            future.cancel()  # thread-safe: the loop then cancels the task

    def _attach(self, future: concurrent.futures.Future[Any] | None) -> None:
        with self._lock:
            self._future = future
        if future is not None and self.cancelled:
            future.cancel()


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("webchat_aio_scope", default=None)


@contextlib.contextmanager
def cancellable(scope: Scope | None = None) -> Iterator[Scope]:
    """Async steps run inside this (in this thread or greenlet) can be cancelled by ``scope``."""
    scope = scope or Scope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0


def _gevent() -> Any | None:
    """gevent's monkey module when it has patched threading (the production worker), else None."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey if monkey is not None and monkey.is_module_patched("threading") else None


def loop() -> asyncio.AbstractEventLoop:
    """The process's loop, started on first use (again in a forked worker: threads do not fork)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            monkey = _gevent()
            if monkey is None:
                _loop = asyncio.new_event_loop()
                threading.Thread(target=_loop.run_forever, name="webchat-asyncio", daemon=True).start()
            else:
                # gevent's selector must not run outside its hub's thread (it crashes there): the
                # loop gets the standard library's own epoll selector, as it was before the patch.
                selector = monkey.get_original("selectors", "DefaultSelector")()
                _loop = asyncio.SelectorEventLoop(selector)
                monkey.get_original("_thread", "start_new_thread")(_loop.run_forever, ())
            _loop_pid = os.getpid()
    return _loop


def run(awaitable: Awaitable[T], *, scoped: bool = True) -> T:
    """Run ``awaitable`` on the loop; wait here for its result (or its exception). Inside
    :func:`cancellable` a stop cancels it, raising :class:`Cancelled` here."""
    scope = _scope.get() if scoped else None
    if scope is not None and scope.cancelled:
        _close(awaitable)
        raise Cancelled()
    future = asyncio.run_coroutine_threadsafe(_awaited(awaitable), loop())
    if scope is None:
        return wait(future)
    scope._attach(future)
    try:
        return wait(future)
    except concurrent.futures.CancelledError:
        raise Cancelled() from None
    finally:
        scope._attach(None)


def _close(awaitable: Awaitable[Any]) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # a coroutine never awaited would warn


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def wait(future: concurrent.futures.Future[T]) -> T:
    """The future's result, waiting cooperatively under gevent."""
    if _gevent() is not None and not future.done():
        import gevent  # present whenever gevent has patched threading
        import gevent.event  # (as above)

        done = gevent.event.Event()
        hub = gevent.get_hub()
        future.add_done_callback(lambda _: hub.loop.run_callback_threadsafe(done.set))
        done.wait()
    return future.result()


def iterate(agen: AsyncIterator[T]) -> Iterator[T]:
    """An async generator as a plain one. It runs on the loop as one task that hands each step
    to this side through a :class:`_Channel` (one wake-up a step: submitting every step to the
    loop separately cost twice the CPU per token, bench/load.py --model async). Closing this (a
    stop, or the end of the reply) cancels the task where the generator awaits, so its ``finally``
    blocks run, and waits for that."""
    channel: _Channel[T] = _Channel()
    future = asyncio.run_coroutine_threadsafe(_pump(agen, channel), loop())
    scope = _scope.get()
    if scope is not None:
        scope._attach(future)
    try:
        while True:
            item = channel.get()
            if item is _END:
                channel.raise_error()
                return
            yield item  # type: ignore[misc]
    finally:
        if scope is not None:
            scope._attach(None)
        if not future.done():
            future.cancel()
            channel.wait_closed()


async def _pump(agen: AsyncIterator[T], channel: _Channel[T]) -> None:
    error: BaseException | None = None
    try:
        async for item in agen:
            channel.put(item)
    except BaseException as raised:  # CancelledError too: the consumer learns of it
        error = raised
        raise
    finally:
        channel.close(error)


_END: Any = object()


class _Channel(Generic[T]):
    """Steps from the loop's thread to one consumer (a thread, or a greenlet), in order. The lock
    is a real one (two OS threads use it); the consumer sleeps on a waker of its own kind."""

    def __init__(self) -> None:
        monkey = _gevent()
        self._lock = monkey.get_original("_thread", "allocate_lock")() if monkey else threading.Lock()
        self._waker = _GeventWaker() if monkey else _ThreadWaker()
        self._items: collections.deque[T] = collections.deque()
        self._closed = False
        self._error: BaseException | None = None
        self._sleeping = False

    def put(self, item: T) -> None:  # the loop's thread
        with self._lock:
            self._items.append(item)
            wake, self._sleeping = self._sleeping, False
        if wake:
            self._waker.wake()

    def close(self, error: BaseException | None) -> None:  # the loop's thread
        with self._lock:
            self._closed, self._error = True, error
            wake, self._sleeping = self._sleeping, False
        if wake:
            self._waker.wake()

    def get(self) -> T:
        """The next step, or _END once the generator has ended (see raise_error)."""
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                if self._closed:
                    return _END
                self._sleeping = True
            self._waker.wait()

    def raise_error(self) -> None:
        if isinstance(self._error, asyncio.CancelledError):
            raise Cancelled() from None
        if self._error is not None:
            raise self._error

    def wait_closed(self) -> None:
        while self.get() is not _END:
            pass


class _ThreadWaker:
    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self) -> None:
        self._event.wait()
        self._event.clear()

    def wake(self) -> None:
        self._event.set()


class _GeventWaker:
    """Wakes a greenlet from another OS thread: gevent's hub runs the set for it (thread-safe)."""

    def __init__(self) -> None:
        import gevent  # present whenever gevent has patched threading
        import gevent.event  # (as above)

        self._hub = gevent.get_hub()
        self._event = gevent.event.Event()

    def wait(self) -> None:
        self._event.wait()
        self._event.clear()

    def wake(self) -> None:
        self._hub.loop.run_callback_threadsafe(self._event.set)
