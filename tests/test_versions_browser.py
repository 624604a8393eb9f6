"""Versions as a person uses them, in headless Chromium: Retry then switch, Edit then switch, by
mouse and by keyboard, and the links that do the same without JavaScript."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_controls_browser import send

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def numbered():
    counter = itertools.count(1)
    return lambda message, history: f"answer {next(counter)} to {message}"


@pytest.fixture
def chat(live_server, page: Page):
    page.goto(live_server(numbered()).url)
    return page


def spoken(locator) -> str:
    """The text a screen reader reads (what aria-hidden hides left out), spaces collapsed."""
    return locator.evaluate(
        "e => { const c = e.cloneNode(true); c.querySelectorAll('[aria-hidden]').forEach(h => h.remove());"
        " return c.textContent.replace(/\\s+/g, ' ').trim(); }"
    )


def retry(page: Page, reply_index: int = -1) -> None:
    reply = page.locator(".reply").nth(reply_index)
    reply.hover()
    reply.get_by_role("button", name="Retry").click()
    expect(page.locator(".reply.streaming")).to_have_count(0)


def test_retry_then_switch_between_versions(chat: Page):
    send(chat, "hello")
    retry(chat)
    reply = chat.locator(".reply").last
    expect(reply).to_contain_text("answer 2 to hello")
    versions = reply.get_by_role("navigation", name="Versions of this reply")
    assert spoken(versions.locator(".version-at")) == "Version 2 of 2"
    versions.get_by_role("link", name="Show version 1 of 2").click()
    expect(chat.locator(".reply").last).to_contain_text("answer 1 to hello")
    # The focus is back on the control, which reads the version shown (for a screen reader).
    expect(chat.locator(".reply .version-at")).to_be_focused()
    assert spoken(chat.locator(".reply .version-at")) == "Version 1 of 2"
    # Keyboard: Tab reaches the next-version link, Enter switches.
    chat.keyboard.press("Tab")
    assert chat.evaluate("document.activeElement.getAttribute('aria-label')") == "Show version 2 of 2"
    chat.keyboard.press("Enter")
    expect(chat.locator(".reply").last).to_contain_text("answer 2 to hello")
    # The conversation goes on from the version shown, and a reload keeps it.
    chat.locator(".reply .versions").get_by_role("link", name="Show version 1 of 2").click()
    expect(chat.locator(".reply").last).to_contain_text("answer 1 to hello")
    send(chat, "and then")
    chat.reload()
    expect(chat.locator(".reply")).to_have_count(2)
    expect(chat.locator(".reply").first).to_contain_text("answer 1 to hello")


def test_retry_an_earlier_reply_and_come_back_to_what_followed(chat: Page):
    send(chat, "one")
    send(chat, "two")
    retry(chat, 0)
    expect(chat.locator(".reply")).to_have_count(1)
    expect(chat.locator(".reply")).to_contain_text("answer 3 to one")
    chat.locator(".reply .versions").get_by_role("link", name="Show version 1 of 2").click()
    expect(chat.locator(".reply")).to_have_count(2)
    expect(chat.locator(".reply").last).to_contain_text("answer 2 to two")


def test_edit_then_switch_back_to_the_original_message(chat: Page):
    send(chat, "first")
    send(chat, "second")
    second = chat.locator(".input").last
    second.hover()
    second.get_by_text("Edit").click()
    chat.locator(".edit-text").fill("SECOND")
    chat.get_by_role("button", name="Save and send").click()
    expect(chat.locator(".reply").last).to_contain_text("answer 3 to SECOND")
    expect(chat.locator(".reply.streaming")).to_have_count(0)
    versions = chat.locator(".input").last.get_by_role("navigation", name="Versions of this message")
    assert spoken(versions.locator(".version-at")) == "Version 2 of 2"
    versions.get_by_role("link", name="Show version 1 of 2").click()
    expect(chat.locator(".msg.user").last).to_have_text("second")
    expect(chat.locator(".reply").last).to_contain_text("answer 2 to second")
    ARTIFACTS.mkdir(exist_ok=True)
    chat.screenshot(path=str(ARTIFACTS / "versions.png"))


def test_without_javascript_the_versions_are_links(live_server, browser: Browser):
    server = live_server(numbered())
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(server.url)
        page.locator("#composer-text").fill("hello")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".reply").last).to_contain_text("answer 1 to hello")
        page.get_by_role("button", name="Retry").click()
        expect(page.locator(".reply").last).to_contain_text("answer 2 to hello")
        page.get_by_role("link", name="Show version 1 of 2").click()
        expect(page.locator(".reply").last).to_contain_text("answer 1 to hello")
        expect(page.locator("#composer-text")).to_be_visible()  # the whole page, not a fragment
        page.get_by_role("link", name="Show version 2 of 2").click()
        expect(page.locator(".reply").last).to_contain_text("answer 2 to hello")
    finally:
        context.close()
