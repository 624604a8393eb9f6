"""Attacker: the model (prompt injection can make it emit anything) and the user's own text.
Neither may run script in the page: not in the streamed fragments, not in the final rendering,
not when a payload is split across fragments so that no single fragment looks dangerous."""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser

import pytest
from playwright.sync_api import Page, expect
from test_render import FORBIDDEN_ATTRS, FORBIDDEN_TAGS, PAYLOADS, URL_ATTRS, _url_ok
from webclient import WS_URL, PageClient, frames_until_close

from webchat import render

REPLY = "\n\n".join(PAYLOADS)


class MarkdownElements(HTMLParser):
    """Collects the elements inside rendered message bodies (<div class="md">)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.found.append((tag, attrs))
            if tag not in ("br", "hr", "img", "input"):
                self.depth += 1
        elif tag == "div" and ("class", "md") in attrs:
            self.depth = 1

    def handle_startendtag(self, tag, attrs):
        if self.depth:
            self.found.append((tag, attrs))

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1


def unsafe_in_page_html(html: str) -> list[str]:
    parser = MarkdownElements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        if tag not in render.ALLOWED_TAGS or tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith(("on", "hx-", "data-")) or name in FORBIDDEN_ATTRS:
                problems.append(f"{name} on <{tag}>")
            if name in URL_ATTRS and not _url_ok(tag, name, value or "", "/files/"):
                problems.append(f"{name}={value!r}")
    return problems


def chunked(text: str, size: int, delay: float):
    """A model that streams ``text`` a few characters at a time."""

    def fn(message, history):
        for end in range(size, len(text) + size, size):
            yield text[:end]
            time.sleep(delay)

    return fn


def test_the_corpus_is_real():
    # Defends against an empty or trivial attack list making every test below pass.
    assert len(PAYLOADS) >= 100
    assert any("onerror" in p for p in PAYLOADS) and any("hx-" in p for p in PAYLOADS)


def test_streamed_and_final_frames_are_safe_even_when_payloads_are_split(live_server):
    # Defends against payloads assembled across fragments and against unsafe progressive renders.
    server = live_server(chunked(REPLY, 7, 0.001))
    page = PageClient(server.url)
    reply = page.send("hi")
    with page.socket(WS_URL.search(reply.text).group(1)) as ws:
        frames = frames_until_close(ws, timeout=60)
    renders = [f["content"] for f in frames if "content" in f]
    assert len(renders) >= 3  # progressive renders happened while the payloads streamed
    for html in renders:
        assert unsafe_in_page_html(html) == []
    for delta in (f["d"] for f in frames if "d" in f):
        assert isinstance(delta, str)  # text for textContent, never parsed as HTML by the page


def test_thought_titles_are_as_safe_as_message_bodies():
    # Defends against a model's thought title (Markdown, one line) as a way in: the same cleaner.
    for payload in PAYLOADS:
        html = str(render.render_inline(payload))
        assert unsafe_in_page_html(f'<div class="md">{html}</div>') == [], payload


def test_the_page_after_reload_is_safe(live_server):
    # Defends against stored XSS: the conversation page renders the stored payloads again.
    server = live_server(lambda message, history: REPLY)
    page = PageClient(server.url)
    reply = page.send("\n\n".join(PAYLOADS[:80]))  # the user's own text carries payloads too
    assert unsafe_in_page_html(reply.text) == []
    time.sleep(0.5)
    html = page.get(reply.headers["HX-Push-Url"]).text
    assert html.count('class="md"') >= 2
    assert unsafe_in_page_html(html) == []
    exported = page.get(reply.headers["HX-Push-Url"] + "/export")
    assert exported.headers["Content-Type"].startswith("application/json")
    assert json.loads(exported.text)[0]["content"].startswith(PAYLOADS[0])


@pytest.mark.browser
def test_no_script_runs_in_chromium(live_server, page: Page):
    # Defends against anything the sanitizer or the streaming path misses: a real browser is the judge.
    dialogs, violations = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    server = live_server(chunked(REPLY, 11, 0.002))
    page.goto(server.url)
    page.locator("#composer-text").fill("\n".join(PAYLOADS[:60]))
    page.locator("#composer-text").press("Enter")
    expect(page.locator(".reply").last).not_to_have_class("reply streaming", timeout=60_000)
    page.reload()
    page.wait_for_timeout(500)
    assert dialogs == []
    assert violations == []  # nothing even tried to run and got stopped by the CSP
    assert page.evaluate("typeof window.xss") == "undefined"
    assert page.locator(".md [hx-get], .md [hx-post], .md [data-hx-get], .md [data-hx-post]").count() == 0
