"""The chat controls as a person uses them, in headless Chromium."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def echo(message, history):
    return f"echo: {message}\n\n```python\nprint({message!r})\n```"


@pytest.fixture
def chat(live_server, page: Page):
    server = live_server(echo)
    page.goto(server.url)
    page.server = server
    return page


def send(page: Page, text: str) -> None:
    """Send and wait for this message's reply to be final (not just the previous one)."""
    page.wait_for_load_state("domcontentloaded")  # Enter sends once the scripts ran
    replies = page.locator(".reply").count()
    page.locator("#composer-text").fill(text)
    page.locator("#composer-text").press("Enter")
    expect(page.locator(".reply")).to_have_count(replies + 1)
    expect(page.locator(".reply").last).not_to_have_class("reply streaming")


def test_shift_enter_makes_a_new_line_and_enter_sends(chat: Page):
    box = chat.locator("#composer-text")
    box.type("line one")
    box.press("Shift+Enter")
    box.type("line two")
    expect(box).to_have_value("line one\nline two")
    assert box.evaluate("b => b.offsetHeight") > 40  # the box grew with its text
    box.press("Enter")
    expect(chat.locator(".msg.user")).to_contain_text("line two")


def test_edit_reruns_from_the_edited_message(chat: Page):
    send(chat, "first")
    send(chat, "second")
    chat.locator(".input").first.hover()
    chat.locator(".input").first.get_by_text("Edit").click()
    chat.locator(".edit-text").fill("FIRST")
    chat.get_by_role("button", name="Save and send").click()
    expect(chat.locator(".reply").last).to_contain_text("echo: FIRST")
    expect(chat.locator(".msg.user")).to_have_count(1)
    expect(chat.locator(".reply").last).not_to_have_class("reply streaming")


def test_undo_puts_the_text_back(chat: Page):
    send(chat, "keep")
    send(chat, "oops")
    chat.locator(".reply").last.get_by_role("button", name="Undo").click()
    expect(chat.locator(".msg.user")).to_have_count(1)
    expect(chat.locator("#composer-text")).to_have_value("oops")


def test_copy_a_message_and_a_code_block(chat: Page):
    chat.context.grant_permissions(["clipboard-read", "clipboard-write"])
    send(chat, "copy me")
    reply = chat.locator(".reply").last
    reply.locator(".copy-code").click()
    assert chat.evaluate("navigator.clipboard.readText()") == "print('copy me')"
    reply.get_by_role("button", name="Copy reply").click()
    copied = chat.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("echo: copy me") and "print('copy me')" in copied


def test_like_toggles(chat: Page):
    send(chat, "rate")
    like = chat.locator(".reply").last.get_by_role("button", name="Good reply")
    like.click()
    expect(chat.locator(".reply").last.get_by_role("button", name="Good reply")).to_have_attribute(
        "aria-pressed", "true"
    )


def test_rename_delete_undo_and_search(chat: Page):
    send(chat, "About apples")
    chat.goto(chat.server.url + "/new")
    send(chat, "About pears")
    item = chat.locator(".conversation", has_text="About apples")
    item.locator("summary").click()
    item.locator("input[name=title]").fill("Fruit notes")
    item.get_by_role("button", name="Rename").click()
    expect(chat.locator(".conversation", has_text="Fruit notes")).to_have_count(1)
    chat.locator("#search").fill("pears")
    expect(chat.locator(".conversation")).to_have_count(1)
    expect(chat.locator(".conversation")).to_contain_text("About pears")
    chat.locator("#search").fill("")
    expect(chat.locator(".conversation")).to_have_count(2)
    item = chat.locator(".conversation", has_text="Fruit notes")
    item.locator("summary").click()
    item.get_by_role("button", name="Delete").click()
    expect(chat.locator(".deleted")).to_contain_text("Fruit notes")
    chat.locator(".deleted").get_by_role("button", name="Undo").click()
    expect(chat.locator(".conversation", has_text="Fruit notes")).to_have_count(1)


def test_export_then_import(chat: Page, tmp_path: Path):
    send(chat, "travel plans")
    item = chat.locator(".conversation").first
    item.locator("summary").click()
    with chat.expect_download() as download:
        item.get_by_text("Export JSON").click()
    path = tmp_path / "export.json"
    download.value.save_as(path)
    item.locator("summary").click()  # close the menu again
    assert json.loads(path.read_text())[0]["content"] == "travel plans"
    chat.locator(".import summary").click()
    chat.locator("#import-file").set_input_files(str(path))
    chat.get_by_role("button", name="Import").click()
    expect(chat.locator(".msg.user")).to_have_text("travel plans")
    expect(chat.locator(".conversation")).to_have_count(2)
    bad = tmp_path / "bad.json"
    bad.write_text('[{"role": "wizard", "content": "x"}]')
    chat.locator(".import summary").click()
    chat.locator("#import-file").set_input_files(str(bad))
    chat.get_by_role("button", name="Import").click()
    expect(chat.locator("body")).to_contain_text("unknown role 'wizard'")
    expect(chat.locator(".conversation")).to_have_count(2)


def test_theme_switch_is_remembered(chat: Page):
    root = chat.locator("html")
    chat.locator("#theme-toggle").click()
    first = root.get_attribute("data-theme")
    assert first in ("light", "dark")
    background = chat.evaluate("getComputedStyle(document.body).backgroundColor")
    chat.reload()
    expect(root).to_have_attribute("data-theme", first)
    chat.locator("#theme-toggle").click()
    assert root.get_attribute("data-theme") != first
    assert chat.evaluate("getComputedStyle(document.body).backgroundColor") != background


def test_a_phone_sized_screen(live_server, browser: Browser):
    server = live_server(echo)
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2)
    page = context.new_page()
    page.goto(server.url)
    send(page, "Hello from a phone, with a fairly long message that has to wrap on a small screen")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # nothing forces sideways scrolling
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone.png"))
    context.close()


def test_without_javascript_the_form_posts_and_the_reply_shows(live_server, browser: Browser):
    server = live_server(echo)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server.url)
    page.locator("#composer-text").fill("no scripts here")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".msg.user")).to_have_text("no scripts here")
    expect(page.locator(".reply").last).to_contain_text("echo: no scripts here")
    assert "/c/" in page.url
    context.close()


def test_clear_appears_with_the_first_message_and_empties_the_chat(chat: Page):
    expect(chat.get_by_role("button", name="Clear")).to_have_count(0)
    send(chat, "something to clear")
    chat.get_by_role("button", name="Clear").click()
    expect(chat.locator(".msg")).to_have_count(0)
    expect(chat.locator(".empty")).to_be_visible()


def test_without_javascript_every_control_returns_to_the_whole_conversation(live_server, browser):
    # Defends against like/dislike and Edit landing on bare, unstyled fragments without
    # JavaScript, and against controls shown that cannot work there (Copy, the theme switch).
    server = live_server(lambda message, history: f"echo: {message}")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(server.url)
        page.locator("#composer-text").fill("first")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".reply").last).to_contain_text("echo: first")
        for hidden in (page.locator("#theme-toggle"), page.locator("button.copy").first):
            expect(hidden).to_be_hidden()
        page.get_by_role("button", name="Good reply").click()
        expect(page.locator("#composer-text")).to_be_visible()  # the whole page, not a fragment
        expect(page.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "true")
        assert page.locator("link[rel=stylesheet]").count() >= 1
        page.get_by_role("link", name="Edit").click()
        expect(page.locator("#composer-text")).to_be_visible()
        page.locator(".edit-text").fill("FIRST")
        page.get_by_role("button", name="Save and send").click()
        expect(page.locator(".reply").last).to_contain_text("echo: FIRST")
        expect(page.locator(".msg.user")).to_have_count(1)
    finally:
        context.close()


def test_a_new_chat_from_a_reply_opens_with_the_conversation_up_to_it(chat: Page):
    send(chat, "first")
    send(chat, "second")
    before = chat.url
    chat.locator(".reply").first.get_by_role("button", name="New chat from here").click()
    expect(chat).not_to_have_url(before)
    expect(chat.locator(".msg.user")).to_have_count(1)
    expect(chat.locator(".msg.user")).to_have_text("first")
    expect(chat.locator(".sidebar .conversation")).to_have_count(2)
    send(chat, "third")  # the new chat goes on from there
    expect(chat.locator(".msg.user")).to_have_count(2)


def test_the_code_stylesheet_is_linked_when_code_first_shows(chat: Page):
    assert chat.locator("#code-css").count() == 0  # a new chat has no code: 1.4 KB not loaded
    send(chat, "hi")  # the reply holds a python block
    expect(chat.locator("#code-css")).to_have_count(1)
    keyword = chat.locator(".md pre .nb, .md pre .k").first  # print: a builtin, coloured
    plain = chat.locator(".md pre").first.evaluate("e => getComputedStyle(e).color")
    expect(keyword).not_to_have_css("color", plain)
    chat.reload()  # a conversation with code links it from the start
    expect(chat.locator("link#code-css")).to_have_count(1)


def test_a_message_sent_while_a_reply_streams_waits_then_is_answered(live_server, page: Page):
    gate = threading.Event()

    def held(message, history):
        if message == "slow":
            assert gate.wait(120)
        return f"echo: {message}"

    server = live_server(held)
    try:
        page.goto(server.url)
        box = page.locator("#composer-text")
        box.fill("slow")
        box.press("Enter")
        expect(page.locator(".reply.streaming")).to_have_count(1)
        box.fill("next")
        box.press("Enter")
        waiting = page.locator(".queued")
        expect(waiting).to_have_count(1)
        expect(waiting).to_contain_text("next")
        expect(waiting).to_contain_text("Waiting for the reply")
        expect(box).to_have_value("")  # the composer is free for more
        expect(page.get_by_role("button", name="Stop and remove waiting messages")).to_be_visible()
        gate.set()
        expect(page.locator(".msg.assistant")).to_have_count(2, timeout=30_000)
        expect(page.locator(".msg.assistant").last).to_have_text("echo: next")
        expect(waiting).to_have_count(0)
        expect(page.locator(".reply.streaming")).to_have_count(0, timeout=30_000)
    finally:
        gate.set()
