"""Tool use in Chromium: the blocks as they stream (pending with a spinner, then done), and a server
set to ask: Allow and Deny buttons under the question, and the reply going on after each."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest
from conftest import settings_for
from fake_openai import FakeModelServer
from playwright.sync_api import Page, expect
from test_controls_browser import send
from test_tools import SERVER, script
from werkzeug.serving import make_server

from webchat.app import create_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def tools_app(tmp_path):
    model = FakeModelServer("tooly").start()
    model.script = script
    config = tmp_path / "mcp.json"
    command = {"command": sys.executable, "args": [str(SERVER)]}
    config.write_text(json.dumps({"mcpServers": {"calc": command, "asker": {**command, "approve": "ask"}}}))
    app = create_app(settings_for(tmp_path, base_url=model.base_url, mcp_config=config, backend="auto"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["webchat"].toolbox.stop()
    model.stop()


def test_a_tool_call_shows_as_a_block_then_the_answer(tools_app, page: Page):
    page.goto(tools_app)
    send(page, "add 2 3")
    reply = page.locator(".reply").last
    block = reply.locator("details.thought").first
    expect(block.locator("summary")).to_contain_text("Used tool add (calc)")
    expect(block.locator(".duration")).to_be_visible()  # done: its time beside the title
    block.locator("summary").click()
    expect(block).to_contain_text("Result")
    expect(reply).to_contain_text("The tool said: 5")
    send(page, "image please")
    image = page.locator(".reply").last.locator("img")
    expect(image).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tools.png"))


@pytest.mark.parametrize(
    ("button", "says"), [("Allow", "The tool said: 2"), ("Deny", "The tool said: The user denied")]
)
def test_a_server_that_asks_shows_allow_and_deny(tools_app, page: Page, button, says):
    page.goto(tools_app)
    page.locator("#composer-text").fill("ask first")
    page.locator("#composer-text").press("Enter")
    question = page.locator(".reply.streaming details.thought")
    expect(question.locator("summary")).to_contain_text("Wants to use tool add (asker)", timeout=30_000)
    expect(question.locator(".spinner")).to_be_visible()
    page.reload()  # the question is asked again after a reload
    expect(page.get_by_role("button", name=button)).to_be_visible(timeout=30_000)
    page.get_by_role("button", name=button).click()
    expect(page.locator(".reply").last).to_contain_text(says, timeout=30_000)
    expect(page.locator(".reply.streaming")).to_have_count(0)
