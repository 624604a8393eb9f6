"""``webchat --mcp``: the chat served as an MCP tool at /mcp, called from the ``mcp`` SDK's client
over streamable HTTP, against a real server on 127.0.0.1 (and with the API on, only with a token)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import settings_for
from werkzeug.serving import make_server

from webchat.app import create_app


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shout(message, history):
    return f"{message.upper()} (after {len(history)} messages)"


async def ask(url: str, headers: dict[str, str] | None = None, **arguments):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers=headers or {}, timeout=30)
    async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
        tools = await client.list_tools()
        result = await client.call_tool("chat", arguments)
        return [t.name for t in tools.tools], result


def run(coroutine):
    """Run the client on a loop of its own thread (the browser tests leave one running in this one)."""
    found = {}

    def main():
        try:
            found["value"] = asyncio.run(coroutine)
        except BaseException as error:
            found["error"] = error

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(60)
    if "error" in found:
        raise found["error"]
    return found["value"]


def test_an_mcp_client_calls_the_chat_function(tmp_path):
    app = create_app(settings_for(tmp_path, mcp_server=True), shout)
    server = serve(app)
    try:
        url = f"http://127.0.0.1:{server.server_port}/mcp"
        names, result = run(ask(url, message="hello", history=[{"role": "user", "content": "hi"}]))
        assert names == ["chat"]
        assert result.content[0].text == "HELLO (after 1 messages)"
        # The page is still served beside it.
        assert app.test_client().get("/").status_code == 200
    finally:
        server.shutdown()


def test_with_the_api_on_a_call_needs_an_api_token(tmp_path):
    from test_api import new_token

    app = create_app(settings_for(tmp_path, mcp_server=True, api=True), shout)
    server = serve(app)
    try:
        url = f"http://127.0.0.1:{server.server_port}/mcp"
        refused = app.test_client().post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401 and "API token" in refused.get_json()["error"]["message"]
        with pytest.raises(BaseException):  # noqa: B017 - the SDK wraps the 401 in its own errors
            run(ask(url, headers={"Authorization": "Bearer not-a-token"}, message="x"))
        secret = new_token(app)
        _, result = run(ask(url, headers={"Authorization": f"Bearer {secret}"}, message="ok"))
        assert result.content[0].text == "OK (after 0 messages)"
    finally:
        server.shutdown()


def test_without_mcp_there_is_no_mcp_path(tmp_path):
    app = create_app(settings_for(tmp_path), shout)
    assert app.test_client().get("/mcp").status_code == 404


@pytest.mark.services
def test_webchat_production_serves_mcp_from_its_gevent_worker(tmp_path):
    # Under gevent the chat function runs in a greenlet of the worker, the MCP server on its loop.
    import os
    import subprocess
    import sys

    from servers import free_port, wait_for_http

    port = free_port()
    env = {**os.environ, "WEBCHAT_SECRET_KEY": "test"}
    command = [sys.executable, "-m", "webchat.cli", "--production", "--mcp", "--backend", "echo"]
    command += ["--port", str(port), "--data-dir", str(tmp_path / "data")]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process=process)
        names, result = run(ask(f"http://127.0.0.1:{port}/mcp", message="hello"))
        assert names == ["chat"] and result.content[0].text == "You said: hello"
    finally:
        os.killpg(process.pid, 15)
        process.wait(15)
