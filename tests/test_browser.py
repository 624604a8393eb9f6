"""What a person does in the page, in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import slow_words
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WORDS = ["Here", " is", " a", " **streamed**", " reply", " with", " `code`", " and", " more", " words", "."]


def send(page: Page, text: str) -> None:
    page.wait_for_load_state("domcontentloaded")  # Enter sends once the scripts ran
    box = page.locator("#composer-text")
    box.fill(text)
    box.press("Enter")


def test_send_a_message_and_watch_the_reply_stream_in(live_server, watched: Page):
    server = live_server(slow_words(WORDS, 0.12))
    watched.goto(server.url)
    send(watched, "hello")
    expect(watched.locator(".msg.user")).to_have_text("hello")
    expect(watched.locator("#composer-text")).to_have_value("")
    reply = watched.locator(".reply").last
    seen = set()
    for _ in range(100):
        text = reply.inner_text()
        seen.add(text)
        if "more" in text:
            break
        watched.wait_for_timeout(40)
    assert len(seen) >= 3, seen  # the text grew in steps: streamed, not delivered at once
    expect(reply.locator("strong")).to_have_text("streamed")
    expect(reply).not_to_have_class("reply streaming")
    expect(reply.locator("code")).to_have_text("code")
    expect(watched).to_have_url(f"{server.url}/c/" + watched.url.rsplit("/", 1)[-1])
    ARTIFACTS.mkdir(exist_ok=True)
    watched.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)


def test_reload_during_a_reply_shows_it_so_far_and_it_finishes(live_server, watched: Page):
    words = [f" part{i}" for i in range(40)]
    server = live_server(slow_words(words, 0.08))
    watched.goto(server.url)
    send(watched, "tell me a long story")
    reply = watched.locator(".reply").last
    expect(reply).to_contain_text("part5")
    watched.reload()
    reply = watched.locator(".reply").last
    expect(reply).to_contain_text("part5")  # drawn by the server at once
    expect(reply).to_contain_text("part39", timeout=15_000)  # and the rest streamed live
    expect(reply).not_to_have_class("reply streaming")
    expect(watched.locator(".msg.user")).to_have_count(1)


def test_an_empty_message_is_not_sent_and_the_composer_says_so(live_server, watched: Page):
    server = live_server()
    watched.goto(server.url)
    send(watched, "   ")
    expect(watched.locator(".composer-error")).to_have_text("Type a message first.")
    expect(watched.locator(".msg.user")).to_have_count(0)
    expect(watched.locator("#composer-text")).to_have_value("   ")


def test_a_failed_reply_shows_an_error_and_retry_works(live_server, watched: Page):
    calls = []

    def flaky(message, history):
        calls.append(message)
        yield "half an answer"
        if len(calls) == 1:
            raise ConnectionError("connection refused")
        yield "half an answer, then the whole answer"

    server = live_server(flaky)
    watched.goto(server.url)
    send(watched, "question")
    expect(watched.locator(".error-bubble")).to_contain_text("cannot be reached")
    expect(watched.locator(".reply").last).to_contain_text("half an answer")
    watched.get_by_role("button", name="Retry").click()
    expect(watched.locator(".reply").last).to_contain_text("the whole answer")
    expect(watched.locator(".error-bubble")).to_have_count(0)
    expect(watched.locator(".msg.user")).to_have_count(1)


def test_stop_keeps_the_partial_reply(live_server, watched: Page):
    server = live_server(slow_words([f" w{i}" for i in range(200)], 0.05))
    watched.goto(server.url)
    send(watched, "go on forever")
    reply = watched.locator(".reply").last
    expect(reply).to_contain_text("w3")
    watched.get_by_role("button", name="Stop").click()
    expect(reply.locator(".note")).to_have_text("Stopped")
    text = reply.inner_text()
    watched.wait_for_timeout(400)
    assert reply.inner_text() == text
    assert "w199" not in text


def test_the_finished_reply_is_announced_to_screen_readers(live_server, watched: Page):
    # Defends against a live region that never speaks: the final frame's event comes on the
    # document, where the reply could not be found by the event's target.
    server = live_server(slow_words(["Hello", " there", "."], 0.05))
    watched.goto(server.url)
    announcer = watched.locator("#announcer")
    assert announcer.get_attribute("aria-live") in ("polite", "assertive")
    send(watched, "hi")
    expect(announcer).to_have_text("Reply complete: Hello there.")


def test_on_a_phone_the_page_never_scrolls_and_the_composer_stays_on_screen(live_server, watched: Page):
    # Defends against the stacked layout giving the chat the whole viewport below the bar: the
    # page scrolled, the bar went off the top and the Send button below the screen.
    server = live_server(lambda message, history: "A long answer. " * 60)
    watched.set_viewport_size({"width": 360, "height": 740})
    watched.goto(server.url)
    for text in ("first", "second", "third"):
        send(watched, text)
        expect(watched.locator(".reply:not(.streaming)")).to_have_count(
            ["first", "second", "third"].index(text) + 1
        )
    scroll, height = watched.evaluate("() => [document.documentElement.scrollHeight, innerHeight]")
    assert scroll <= height, (scroll, height)
    send_box = watched.get_by_role("button", name="Send").bounding_box()
    bar = watched.get_by_role("link", name="New chat").bounding_box()
    assert send_box["y"] + send_box["height"] <= height and bar["y"] >= 0


def test_on_a_desktop_tab_goes_from_new_chat_to_search(live_server, watched: Page):
    # Defends against a Tab stop on the phone drawer's invisible checkbox.
    server = live_server()
    watched.goto(server.url)
    watched.get_by_role("link", name="New chat").focus()
    watched.keyboard.press("Tab")
    assert watched.evaluate("() => document.activeElement.getAttribute('type')") == "search"
