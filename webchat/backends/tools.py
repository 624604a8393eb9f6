"""Tools from MCP servers (Model Context Protocol), for the built-in models.

The servers come from ``--mcp-config FILE``, in the JSON shape MCP clients commonly use::

    {"mcpServers": {
        "calculator": {"command": "python", "args": ["calc.py"], "env": {"KEY": "…"}},
        "search": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer …"}},
        "files": {"command": "npx", "args": ["…"], "approve": "ask"}}}

``command`` servers are child processes spoken to over stdio; ``url`` ones over streamable HTTP.
``approve`` is ``always`` (the default: calls run), ``ask`` (each call waits for Allow or Deny in
the page) or ``never`` (the tools are not offered). The protocol is the ``mcp`` SDK's
(``mcp.Client``), never written here.

Each server is one task on webchat's asyncio loop (webchat.aio) that holds its connection open and
serves calls one after another. When the connection fails (the process crashed, hung past the
timeout, wrote garbage) the task ends and the calls waiting on it fail with words; the next call
starts the server again. At exit every task is cancelled, which ends the child processes.
A tool's result is text for the model (images and audio kept as files for the page), cut at
MAX_RESULT_CHARS and marked so.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextvars
import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from webchat import aio

log = logging.getLogger("webchat")

Approval = Literal["always", "ask", "never"]
CALL_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 30.0
MAX_RESULT_CHARS = 20_000
# OpenAI-style function names allow letters, digits, _ and -: a tool is offered as server__tool.
SEPARATOR = "__"


class ToolsConfigError(SystemExit):
    """The MCP config cannot be used; the text names the file and what is wrong."""


class ToolError(Exception):
    """A tool call failed; the text says why in words (shown in its block, told to the model)."""


@dataclass(frozen=True)
class ServerSpec:
    """One configured MCP server."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    approve: Approval = "always"
    timeout: float = CALL_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Tool:
    server: str
    name: str
    description: str
    schema: dict[str, Any]

    @property
    def function_name(self) -> str:
        return f"{self.server}{SEPARATOR}{self.name}"

    def openai(self) -> dict[str, Any]:
        """The tool as OpenAI's chat-completions ``tools`` list takes it."""
        return {
            "type": "function",
            "function": {
                "name": self.function_name,
                "description": self.description[:1024],
                "parameters": self.schema or {"type": "object", "properties": {}},
            },
        }


@dataclass(frozen=True)
class ToolResult:
    """What a call gave: text for the model, media for the page (``(mime type, bytes)``)."""

    text: str
    media: tuple[tuple[str, bytes], ...] = ()
    error: bool = False
    cut: bool = False
    warning: str = ""  # something wrong that did not stop the call (said in its block)


def read_mcp_config(path: Path) -> list[ServerSpec]:
    """The servers of an MCP config file; ToolsConfigError says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ToolsConfigError(f"The MCP config {path} cannot be read: {error.strerror or error}.") from None
    except json.JSONDecodeError as error:
        raise ToolsConfigError(f"{path}, line {error.lineno}: not valid JSON: {error.msg}.") from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ToolsConfigError(f'{path}: expected {{"mcpServers": {{name: {{command, args}} or {{url}}}}}}.')
    return servers_of(path, servers)


def servers_of(
    path: Path, servers: Mapping[str, Any], taken: set[str] | frozenset[str] = frozenset()
) -> list[ServerSpec]:
    """The servers of an ``mcpServers`` mapping (of an MCP config, or the models file's
    ``[mcpServers.<name>]`` tables); a name used already (``taken``) is refused."""
    if not isinstance(servers, Mapping):
        raise ToolsConfigError(f"{path}: mcpServers is a table of servers by name.")
    for name in servers:
        if name in taken:
            raise ToolsConfigError(f"{path}: the MCP server name {name!r} is used twice.")
    return [_spec(path, name, entry) for name, entry in servers.items()]


def _spec(path: Path, name: str, entry: Any) -> ServerSpec:
    at = f"{path}: server {name!r}"
    if not name or SEPARATOR in name or not all(c.isalnum() or c in "-_" for c in name):
        raise ToolsConfigError(f"{at}: a name is letters, digits, - and _ (no {SEPARATOR!r}).")
    if not isinstance(entry, dict):
        raise ToolsConfigError(f"{at}: each server is an object with command (and args) or url.")
    known = {"command", "args", "env", "url", "headers", "approve", "timeout", "type", "cwd"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ToolsConfigError(f"{at}: unknown key {unknown[0]!r} ({', '.join(sorted(known))}).")
    command, url = entry.get("command"), entry.get("url")
    if bool(command) == bool(url):
        raise ToolsConfigError(f"{at}: give either command (a program to start) or url (a server), not both.")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ToolsConfigError(f"{at}: args is a list of strings.")
    for key in ("env", "headers"):
        value = entry.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ToolsConfigError(f"{at}: {key} is an object of strings.")
    approve = entry.get("approve", "always")
    if approve not in ("always", "ask", "never"):
        raise ToolsConfigError(f"{at}: approve is always, ask or never.")
    timeout = entry.get("timeout", CALL_TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolsConfigError(f"{at}: timeout is a number of seconds above 0.")
    return ServerSpec(
        name=name,
        command=command,
        args=tuple(args),
        env=dict(entry.get("env", {})),
        url=url,
        headers=dict(entry.get("headers", {})),
        approve=approve,
        timeout=float(timeout),
    )


class ToolServer:
    """One MCP server: connected on first use, kept open, started again after a failure."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self._queue: asyncio.Queue[tuple[str, Any, asyncio.Future[Any]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._tools: list[Tool] | None = None
        self.garbage = 0  # lines on its output that were not the protocol (the SDK skips them)

    # Called from any thread or greenlet: each waits on the loop without holding anything up.

    def tools(self) -> list[Tool]:
        if self._tools is None:
            self._tools = aio.run(self._request("list", None), scoped=False)
        return self._tools

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call a tool; ToolError in words when the server fails, hangs or answers garbage."""
        try:
            return aio.run(self._request("call", (name, arguments)), scoped=False)
        except ToolError:
            raise
        except TimeoutError:
            raise ToolError(
                f"The tool server {self.spec.name!r} did not answer within {self.spec.timeout:g} s "
                "(it is started again for the next call)."
            ) from None

    def stop(self) -> None:
        task = self._task
        if task is not None and not task.done():
            aio.loop().call_soon_threadsafe(task.cancel)

    # On the loop

    async def _request(self, kind: str, payload: Any) -> Any:
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._serve(self._queue))
        assert self._queue is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((kind, payload, future))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.spec.timeout + CONNECT_TIMEOUT_SECONDS)
        except TimeoutError:
            if self._task is not None:
                self._task.cancel()  # a hung server: ended, started again next time
            raise

    async def _serve(self, queue: asyncio.Queue[tuple[str, Any, asyncio.Future[Any]]]) -> None:
        waiting: asyncio.Future[Any] | None = None
        failure: BaseException = ToolError(f"The tool server {self.spec.name!r} was stopped.")
        _serving.set(self)  # the SDK's reader task inherits it: its complaints are counted here
        try:
            async with self._client() as client:
                while True:
                    kind, payload, waiting = await queue.get()
                    if kind == "list":
                        result = await asyncio.wait_for(client.list_tools(), self.spec.timeout)
                        waiting.set_result(
                            [
                                Tool(self.spec.name, t.name, t.description or "", dict(t.input_schema or {}))
                                for t in result.tools
                            ]
                        )
                    else:
                        name, arguments = payload
                        garbage = self.garbage
                        try:
                            result = await asyncio.wait_for(
                                client.call_tool(name, arguments), self.spec.timeout
                            )
                        except TimeoutError:
                            raise ToolError(
                                f"The tool server {self.spec.name!r} did not answer within "
                                f"{self.spec.timeout:g} s (it is started again for the next call)."
                            ) from None
                        answered = _result(result)
                        if self.garbage > garbage:
                            answered = dataclasses.replace(
                                answered,
                                warning=f"The tool server wrote {self.garbage - garbage} line(s) that are "
                                "not MCP into its output; they were skipped.",
                            )
                        waiting.set_result(answered)
                    waiting = None
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # a crash, garbage on stdout, a refused connection
            leaves = _leaves(error)  # the SDK's task groups wrap what went wrong in groups
            own = next((e for e in leaves if isinstance(e, ToolError)), None)
            if own is not None:
                failure = own
                return
            if any(isinstance(e, TimeoutError) or "timed out" in str(e).lower() for e in leaves):
                failure = ToolError(
                    f"The tool server {self.spec.name!r} did not answer within {self.spec.timeout:g} s "
                    "(it is started again for the next call)."
                )
                return
            log.info("MCP server %s failed: %r", self.spec.name, error)
            failure = ToolError(
                f"The tool server {self.spec.name!r} failed ({_reason(error)}); "
                "it is started again for the next call."
            )
        finally:
            pending = [waiting] if waiting is not None else []
            while not queue.empty():
                pending.append(queue.get_nowait()[2])
            for future in pending:
                if not future.done():
                    future.set_exception(failure)

    def _client(self) -> Any:
        from mcp import Client, StdioServerParameters  # the optional extra: imported when used

        if self.spec.url:
            import httpx2  # comes with mcp; imported only when a server is configured
            from mcp.client.streamable_http import streamable_http_client  # likewise

            http = httpx2.AsyncClient(headers=dict(self.spec.headers), timeout=self.spec.timeout)
            return Client(streamable_http_client(self.spec.url, http_client=http), mode="legacy")
        params = StdioServerParameters(
            command=self.spec.command or "", args=list(self.spec.args), env={**os.environ, **self.spec.env}
        )
        return Client(params, mode="legacy", read_timeout_seconds=self.spec.timeout)


# The server whose connection the running task serves (set in ToolServer._serve, inherited by the
# tasks the SDK starts for it), so that a line the SDK cannot parse is put down to that server.
_serving: contextvars.ContextVar[ToolServer | None] = contextvars.ContextVar(
    "webchat_mcp_server", default=None
)


class _CountGarbage(logging.Filter):
    """The SDK skips a stdout line that is not JSON-RPC and logs it; count it for its server."""

    def filter(self, record: logging.LogRecord) -> bool:
        server = _serving.get()
        if server is not None and "Failed to parse" in record.getMessage():
            server.garbage += 1
        return True


logging.getLogger("mcp.client.stdio").addFilter(_CountGarbage())


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or the one given."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _reason(error: BaseException) -> str:
    leaves = _leaves(error)
    error = next((e for e in leaves if not isinstance(e, asyncio.CancelledError)), leaves[0])
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _result(result: Any) -> ToolResult:
    """A CallToolResult as text for the model and media for the page, cut at MAX_RESULT_CHARS."""
    texts: list[str] = []
    media: list[tuple[str, bytes]] = []
    for part in result.content or []:
        kind = getattr(part, "type", "")
        if kind == "text":
            texts.append(part.text)
        elif kind in ("image", "audio"):
            try:
                media.append((part.mime_type, base64.b64decode(part.data, validate=True)))
                texts.append(f"[{kind} {part.mime_type}, shown to the user]")
            except (ValueError, TypeError):
                texts.append(f"[a {kind} that was not valid base64]")
        else:
            texts.append(json.dumps(part.model_dump(mode="json"), ensure_ascii=False)[:2000])
    structured = getattr(result, "structured_content", None)
    if not texts and structured is not None:
        texts.append(json.dumps(structured, ensure_ascii=False))
    text = "\n".join(texts)
    cut = len(text) > MAX_RESULT_CHARS
    if cut:
        text = (
            text[:MAX_RESULT_CHARS]
            + f"\n[cut: the result was {len(text):,} characters; the first {MAX_RESULT_CHARS:,} are shown]"
        )
    return ToolResult(text, tuple(media), bool(getattr(result, "is_error", False)), cut)


class Toolbox:
    """Every configured MCP server, by name; the tools of those a conversation turned on."""

    def __init__(self, specs: list[ServerSpec]) -> None:
        self.servers = {spec.name: ToolServer(spec) for spec in specs}
        atexit.register(self.stop)  # no orphaned child processes

    @property
    def names(self) -> list[str]:
        return list(self.servers)

    def tools(self, enabled: list[str] | None = None) -> list[Tool]:
        """The tools of the servers ``enabled`` (all when None) that may be offered; a server that
        cannot be reached is left out (logged), so the reply goes on without it."""
        found: list[Tool] = []
        for name, server in self.servers.items():
            if (enabled is not None and name not in enabled) or server.spec.approve == "never":
                continue
            try:
                found += server.tools()
            except Exception as error:
                log.warning("MCP server %s offers no tools now: %s", name, _reason(error))
        return found

    def server_of(self, function_name: str) -> ToolServer | None:
        server, _, _ = function_name.partition(SEPARATOR)
        return self.servers.get(server)

    def call(self, function_name: str, arguments: dict[str, Any]) -> tuple[ToolResult, float]:
        """Run a call the model asked for; (its result, seconds it took). A failure is a result
        marked as an error, in words, never an exception: the reply goes on."""
        server = self.server_of(function_name)
        started = time.monotonic()
        if server is None:
            return ToolResult(f"There is no tool {function_name!r}.", error=True), 0.0
        tool = function_name.partition(SEPARATOR)[2]
        try:
            result = server.call(tool, arguments)
        except ToolError as error:
            result = ToolResult(str(error), error=True)
        return result, time.monotonic() - started

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
