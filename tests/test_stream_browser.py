"""What the page shows while a reply streams, in Chromium, across a reconnect and a reload: no word
twice, no two words stuck together (the final frame would correct both, but a person reads them
first). The chat function is gated on events, so each step happens when the test says."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def gated(first: int, second: int) -> tuple[object, threading.Event, threading.Event]:
    """Yields words w1..w<first> ("w1 w2 ..."), waits for ``more``, yields up to w<second>, waits
    for ``end``, and ends."""
    more, end = threading.Event(), threading.Event()

    def fn(message, history):
        text = ""
        for i in range(1, second + 1):
            text += f"w{i} "
            yield text
            if i == first:
                more.wait(60)
        end.wait(60)

    return fn, more, end


def send(page: Page, text: str) -> None:
    page.wait_for_load_state("domcontentloaded")  # Enter sends once the scripts ran
    page.locator("#composer-text").fill(text)
    page.locator("#composer-text").press("Enter")


def words_of(page: Page) -> list[str]:
    return page.locator(".reply").last.locator(".md").inner_text().split()


def test_a_reconnected_socket_does_not_show_words_twice(live_server, page: Page):
    # (Not the watched page: Chromium logs "Invalid frame header" when the development server
    # answers the socket the page closed itself, which is beside the point here.)
    watched = page
    fn, more, end = gated(5, 8)
    server = live_server(fn)
    watched.goto(server.url)
    send(watched, "go")
    reply = watched.locator(".reply.streaming")
    expect(reply).to_contain_text("w5")
    # The tab is hidden (hx-ws closes the socket) and shown again (it reconnects).
    hide = "Object.defineProperty(document, 'hidden', {value: %s, configurable: true});"
    watched.evaluate(hide % "true" + "document.dispatchEvent(new Event('visibilitychange'))")
    watched.wait_for_function("() => document.querySelector('.reply.streaming') !== null")
    watched.evaluate(hide % "false" + "document.dispatchEvent(new Event('visibilitychange'))")
    more.set()
    expect(reply).to_contain_text("w8")
    try:
        assert words_of(watched).count("w1") == 1, words_of(watched)
        assert words_of(watched) == [f"w{i}" for i in range(1, 9)], words_of(watched)
    finally:
        end.set()
    expect(watched.locator(".reply").last).not_to_have_class("reply streaming")


def test_after_a_reload_the_next_word_does_not_stick_to_the_last(live_server, watched: Page):
    fn, more, end = gated(11, 12)
    server = live_server(fn)
    watched.goto(server.url)
    send(watched, "go")
    expect(watched.locator(".reply.streaming")).to_contain_text("w11")
    watched.reload()  # the page draws the reply so far itself, then follows the socket
    expect(watched.locator(".reply.streaming")).to_contain_text("w11")
    more.set()
    expect(watched.locator(".reply.streaming")).to_contain_text("w12")
    try:
        assert "w11w12" not in watched.locator(".reply").last.locator(".md").inner_text()
        assert words_of(watched)[-2:] == ["w11", "w12"], words_of(watched)
    finally:
        end.set()
