"""Picking models in Chromium: the local llama.cpp model and an OpenAI-compatible server (the fake
one of tests/fake_openai.py) in one conversation, switched with the picker; presets; a Retry with
another model, kept as a version."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import settings_for
from fake_openai import FakeModelServer
from playwright.sync_api import Page, expect
from test_controls_browser import send
from werkzeug.serving import make_server

from webchat.app import create_app

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def send_slow(page: Page, text: str) -> None:
    """Send, waiting as long as the local model may take on a busy machine."""
    replies = page.locator(".reply").count()
    page.locator("#composer-text").fill(text)
    page.locator("#composer-text").press("Enter")
    expect(page.locator(".reply")).to_have_count(replies + 1, timeout=60_000)
    expect(page.locator(".reply").last).not_to_have_class("reply streaming", timeout=120_000)


@pytest.fixture
def two_models(tmp_path, default_gguf):
    fake = FakeModelServer("fake").start()
    path = tmp_path / "models.toml"
    path.write_text(
        f"""
[[models]]
name = "Fake server"
base_url = "{fake.base_url}"
model = "fake-model"

[[models]]
name = "SmolLM2 here"
gguf = "{default_gguf}"
parameters = {{ max_tokens = 24, temperature = 0 }}
"""
    )
    app = create_app(settings_for(tmp_path, models_file=path, backend="auto"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", fake, app
    server.shutdown()
    app.extensions["webchat"].models.stop()
    fake.stop()


def test_switching_between_two_model_servers_in_one_conversation(two_models, page: Page):
    url, fake, _ = two_models
    page.goto(url)
    picker = page.get_by_label("Model")
    expect(picker).to_have_value("Fake server")
    send(page, "Hello there")
    expect(page.locator(".reply").last).to_contain_text("[fake] model=fake-model you said: Hello there")
    picker.select_option("SmolLM2 here")
    expect(page.locator("#model-settings summary")).to_contain_text("SmolLM2 here")  # its defaults now
    send_slow(page, "Say hello.")
    local = page.locator(".reply").last
    # (A 135M model may well repeat the last answer: which server wrote it is in its record.)
    expect(local.locator(".turn-record > summary")).to_contain_text("SmolLM2 here")
    assert len(fake.requests) == 1
    # The local reply, retried with the fake server chosen again: a second version of it.
    picker.select_option("Fake server")
    expect(page.locator("#model-settings summary")).to_contain_text("Fake server")
    local.hover()
    local.get_by_role("button", name="Retry").click()
    expect(page.locator(".reply").last).to_contain_text("[fake] model=fake-model you said: Say hello.")
    expect(page.locator(".reply").last.locator(".versions")).to_contain_text("2")
    page.reload()
    expect(page.get_by_label("Model")).to_have_value("Fake server")  # remembered
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "models.png"))


def test_a_preset_saved_in_the_panel_starts_a_new_chat(two_models, page: Page):
    url, fake, _ = two_models
    page.goto(url)
    page.locator("#model-settings summary").click()
    page.get_by_label("System prompt").fill("You are terse.")
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_label("Preset name").fill("Terse")
    page.get_by_role("button", name="Save as preset").click()
    presets = page.locator("#presets")
    expect(presets).to_contain_text("New chat from a preset")
    presets.locator("summary").click()
    presets.get_by_role("button", name="Terse", exact=True).click()
    expect(page).to_have_url(__import__("re").compile(r"/c/"))
    expect(page.get_by_label("System prompt")).to_have_value("You are terse.")
    send(page, "hi")
    assert fake.requests[-1].body["messages"][0]["content"] == "You are terse."
    assert fake.requests[-1].body["temperature"] == 0.3


def test_compare_shows_answers_side_by_side_then_one_is_kept(two_models, browser):
    url, _, _ = two_models
    for width, side_by_side in ((1280, True), (360, False)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        page.goto(url)
        page.locator("#model-settings summary").click()
        page.get_by_label("SmolLM2 here").check()
        send_slow(page, "Compare this")
        answers = page.locator(".reply .msg.compare-answer")
        expect(answers).to_have_count(2)
        expect(answers.first).to_contain_text("[fake] model=fake-model you said: Compare this")
        first, second = answers.nth(0).bounding_box(), answers.nth(1).bounding_box()
        if side_by_side:
            assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"] + first["width"] - 1
        else:
            assert (
                second["y"] >= first["y"] + first["height"] - 1
                and page.evaluate("document.documentElement.scrollWidth") <= width
            )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"compare-{width}.png"))
        answers.nth(0).get_by_role("button", name="Keep this answer").click()
        expect(page.locator(".reply .msg.compare-answer")).to_have_count(0)
        expect(page.locator(".reply").last).to_contain_text("[fake] model=fake-model you said: Compare this")
        expect(page.locator(".reply").last.locator(".versions")).to_contain_text("1")
        context.close()
