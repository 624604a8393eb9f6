"""Every chat as an MCP tool: ``webchat --mcp`` (Gradio's ``launch(mcp_server=True)``) serves the
chat function, or the default built-in model, as the tool ``chat`` at ``/mcp`` (streamable HTTP),
so an MCP client (an IDE, another agent) can ask it things.

The server is the ``mcp`` SDK's (``MCPServer``), an ASGI app, mounted in front of the Flask app by
``a2wsgi`` on webchat's asyncio loop (webchat.aio), which also runs its session manager (what its
lifespan would run). It is stateless and answers with JSON (no server-sent stream to keep open).
When the API is on (``--api``, or logins), a call must carry an API token (``Authorization:
Bearer``), as the rest of the API does; the answer is not stored as a conversation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from webchat import aio
from webchat.chat import ChatFunction, stream_reply
from webchat.store.tokens import TokenStore

PATH = "/mcp"
INSTRUCTIONS = "Ask the chat a question with the tool `chat`; pass earlier turns as `history` to go on."


def mcp_wsgi(
    title: str, answer: ChatFunction, tokens: TokenStore | None, inner: Callable[..., Iterable[bytes]]
) -> Callable[..., Iterable[bytes]]:
    """``inner`` (the Flask app's WSGI callable) with ``/mcp`` served by the MCP server first;
    ``tokens``: the API tokens a call must carry one of (None: the API is off, calls are open)."""
    from a2wsgi import ASGIMiddleware  # only with --mcp: neither is loaded otherwise
    from mcp.server.mcpserver import MCPServer  # likewise
    from mcp.server.transport_security import TransportSecuritySettings  # likewise

    server = MCPServer(title or "webchat", instructions=INSTRUCTIONS)

    @server.tool(description=f"Ask {title or 'the chat'} something; returns its whole answer as text.")
    async def chat(message: str, history: list[dict[str, Any]] | None = None) -> str:
        return await _blocking(_answer, answer, message, history or [])

    asgi = server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        # webchat checks who may call (the API token), and nginx or --public-origin the host.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    ready = _start_lifespan(asgi)
    served = ASGIMiddleware(asgi, loop=aio.loop())

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != PATH and not path.startswith(PATH + "/"):
            return inner(environ, start_response)
        _note_worker_hub()
        aio.wait(ready)  # the session manager runs (at once, but for the first call)
        if tokens is not None and not _token_ok(tokens, environ.get("HTTP_AUTHORIZATION", "")):
            body = json.dumps(
                {"error": {"message": "This MCP server needs an API token: 'Authorization: Bearer <token>'."}}
            ).encode()
            start_response(
                "401 UNAUTHORIZED", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return served(environ, start_response)

    return dispatch


def _answer(answer: ChatFunction, message: str, history: list[dict[str, Any]]) -> str:
    """The chat's whole answer to ``message``: its last reply's text (thought blocks left out)."""
    last: list[Any] = []
    replies = stream_reply(answer, message, history)
    try:
        for last in replies:  # noqa: B007 - only the whole answer is wanted
            pass
    finally:
        replies.close()
    texts = [m.content for m in last if isinstance(m.content, str) and not m.metadata.get("title")]
    return "\n\n".join(t for t in texts if t)


def _token_ok(tokens: TokenStore, header: str) -> bool:
    scheme, _, secret = header.partition(" ")
    return (
        scheme.lower() == "bearer"
        and bool(secret.strip())
        and tokens.authenticate(secret.strip()) is not None
    )


def _start_lifespan(asgi: Any) -> concurrent.futures.Future[bool]:
    """Run the app's lifespan (its session manager) on the loop, for as long as the process lives;
    the future is done once it runs. Not waited for here: under gevent, app creation must not
    block on another thread (nothing else would wake the worker's hub yet)."""
    ready: concurrent.futures.Future[bool] = concurrent.futures.Future()

    async def live() -> None:
        try:
            async with asgi.router.lifespan_context(asgi):
                ready.set_result(True)
                await asyncio.Event().wait()
        except BaseException as error:
            if not ready.done():
                ready.set_exception(error)
            raise

    loop = aio.loop()
    loop.call_soon_threadsafe(lambda: loop.create_task(live()))
    return ready


# Under gevent (--production) the chat function runs as a greenlet of the worker's hub, as a turn
# does, not in a thread of the loop's: the hub of the worker, as the last /mcp request saw it.
_worker_hub: list[Any] = []


def _note_worker_hub() -> None:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent  # present whenever gevent has patched threading

        _worker_hub[:] = [gevent.get_hub()]


async def _blocking(fn: Callable[..., str], *args: Any) -> str:
    """``fn(*args)`` without blocking the loop: in a thread, or a greenlet of the worker's hub."""
    if not _worker_hub:
        return await asyncio.to_thread(fn, *args)
    import gevent  # as above

    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def job() -> None:
        try:
            result = fn(*args)
        except BaseException as error:  # handed to the awaiting tool call
            loop.call_soon_threadsafe(future.set_exception, error)
        else:
            loop.call_soon_threadsafe(future.set_result, result)

    _worker_hub[0].loop.run_callback_threadsafe(lambda: gevent.spawn(job))
    return await future
