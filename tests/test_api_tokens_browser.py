"""Making and revoking an API token in the page, in headless Chromium, and using it from a program."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def test_a_person_makes_a_token_a_program_uses_it_and_the_person_revokes_it(live_server, page: Page):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    server = live_server(api=True)
    page.goto(server.url)
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    page.get_by_label("Name").fill("nightly report")
    page.get_by_role("button", name="Create token").click()
    secret_box = page.locator("#token-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    assert secret.startswith("wct_")
    expect(page.locator("table.tokens")).to_contain_text("nightly report")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-tokens.png"), full_page=True)

    client = InferenceClient(base_url=server.url + "/v1", api_key=secret)
    answer = client.chat_completion([{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hi there"

    page.reload()  # the secret is shown once only
    expect(page.locator("#token-secret")).to_have_count(0)
    expect(page.locator("table.tokens")).to_contain_text("nightly report")
    page.get_by_role("button", name="Revoke nightly report").click()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    with pytest.raises(HfHubHTTPError) as refused:
        client.chat_completion([{"role": "user", "content": "hi"}])
    assert refused.value.response.status_code == 401
    assert problems == [], problems


def test_the_new_tokens_every_character_shows_and_copy_copies_it(live_server, page: Page):
    # Defends against the underscores of wct_…_… clipped by the field at 100 % zoom (read as
    # spaces), and against copying it by hand.
    server = live_server(api=True)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page.goto(server.url + "/settings/tokens")
    page.get_by_label("Name").fill("copy me")
    page.get_by_role("button", name="Create token").click()
    box = page.locator("#token-secret")
    secret = box.input_value()
    assert secret.startswith("wct_")
    # Room for the underscores: the line is taller than the glyphs, and nothing is cut off.
    font, line, scroll, client = box.evaluate(
        "b => [parseFloat(getComputedStyle(b).fontSize), parseFloat(getComputedStyle(b).lineHeight),"
        " b.scrollHeight, b.clientHeight]"
    )
    assert line >= 1.5 * font and scroll <= client, (font, line, scroll, client)
    page.get_by_role("button", name="Copy the token").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
