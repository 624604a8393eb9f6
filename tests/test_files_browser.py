"""Files in headless Chromium: attaching by the file chooser, by drag and drop and by pasting,
removing before sending, seeing them in the conversation, playing audio back, and limits."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import samples
from conftest import settings_for
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from webchat.app import create_app
from webchat.gradio import media
from webchat.web.page import Page as ChatPage

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def watched(page: Page) -> Iterator[Page]:
    """The page, failing the test on any script error, CSP violation or dialog (a script in an
    uploaded file must never run). A 4xx answer to a refused message is expected."""
    problems: list[str] = []
    expected = "the server responded with a status of 4"
    page.on(
        "console", lambda m: problems.append(m.text) if m.type == "error" and expected not in m.text else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield page
    assert problems == [], problems


@pytest.fixture
def files_server(tmp_path: Path) -> Iterator[Any]:
    """A real threaded server for a chat that takes files (a multimodal ChatInterface)."""
    servers = []

    def start(chat_fn=None, **changes: Any) -> str:
        def default(message, history):
            names = [Path(p).name for p in message["files"]]
            return f"Got {len(names)} file(s): {', '.join(names)}"

        app = create_app(
            settings_for(tmp_path, **changes), chat_fn or default, page=ChatPage(multimodal=True)
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def payload(name: str, mime: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


def attached_names(page: Page) -> list[str]:
    return page.locator("#composer-files .attachment-name").all_inner_texts()


def loaded(image) -> bool:
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


JS_TRANSFER = """([files]) => {
  const transfer = new DataTransfer();
  for (const [name, type, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type }));
  }
  return transfer;
}"""


def transfer(page: Page, *files: tuple[str, str, bytes]):
    encoded = [[name, mime, base64.b64encode(data).decode()] for name, mime, data in files]
    return page.evaluate_handle(JS_TRANSFER, [encoded])


def test_attach_an_image_with_the_file_chooser_and_see_it_in_the_conversation(files_server, watched: Page):
    url = files_server()
    watched.goto(url)
    with watched.expect_file_chooser() as chooser:
        watched.locator("label.attach").click()
    chooser.value.set_files(payload("cat.png", "image/png", samples.png((40, 30))))
    expect(watched.locator("#composer-files .attachment")).to_have_count(1)
    assert attached_names(watched) == ["cat.png"]
    expect(watched.locator("#composer-files .size")).to_have_text(f"{len(samples.png((40, 30)))} bytes")
    box = watched.locator("#composer-text")
    box.fill("what is this?")
    box.press("Enter")
    image = watched.locator(".msg.user .file-image img")
    expect(image).to_have_attribute("alt", "cat.png")
    watched.wait_for_function(
        "() => document.querySelector('.msg.user .file-image img')?.naturalWidth === 40"
    )
    expect(watched.locator(".reply").last).to_contain_text("Got 1 file(s): cat.png")
    expect(watched.locator("#composer-files .attachment")).to_have_count(0)
    assert watched.locator("#composer-file-input").evaluate("input => input.files.length") == 0
    with watched.context.expect_page() as opened:
        watched.locator(".msg.user .file-image").click()  # a click opens it full size
    full = opened.value
    full.wait_for_load_state()
    assert full.url.endswith("/cat.png")
    assert full.evaluate("document.contentType") == "image/png"
    full.close()
    watched.reload()  # drawn by the server from the stored message too
    expect(watched.locator(".msg.user .file-image img")).to_have_count(1)
    assert loaded(watched.locator(".msg.user .file-image img"))
    ARTIFACTS.mkdir(exist_ok=True)
    watched.screenshot(path=str(ARTIFACTS / "files.png"), full_page=True)


def test_drop_files_on_the_composer_remove_one_and_send_only_files(files_server, watched: Page):
    url = files_server()
    watched.goto(url)
    dropped = transfer(
        watched,
        ("red.png", "image/png", samples.png((20, 20), "red")),
        ("notes.txt", "text/plain", b"some notes"),
        ("blue.png", "image/png", samples.png((20, 20), "blue")),
    )
    composer = watched.locator("#composer-text")
    composer.dispatch_event("dragover", {"dataTransfer": dropped})
    expect(watched.locator("#composer")).to_have_class("composer dropping")
    composer.dispatch_event("drop", {"dataTransfer": dropped})
    expect(watched.locator("#composer")).to_have_class("composer")
    expect(watched.locator("#composer-files .attachment")).to_have_count(3)
    watched.get_by_role("button", name="Remove notes.txt").click()
    assert attached_names(watched) == ["red.png", "blue.png"]
    watched.locator("button.send").click()  # no text: a message may be only files
    expect(watched.locator(".msg.user .file-image img")).to_have_count(2)
    expect(watched.locator(".reply").last).to_contain_text("Got 2 file(s): red.png, blue.png")
    assert "notes.txt" not in watched.locator("#messages").inner_text()


def test_paste_an_image_into_the_message_box(files_server, watched: Page):
    url = files_server()
    watched.goto(url)
    pasted = transfer(watched, ("image.png", "image/png", samples.png((12, 12))))
    watched.locator("#composer-text").evaluate(
        "(box, data) => box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}))",
        pasted,
    )
    assert attached_names(watched) == ["image.png"]
    watched.locator("#composer-text").fill("a screenshot")
    watched.locator("#composer-text").press("Enter")
    expect(watched.locator(".msg.user .file-image img")).to_have_count(1)
    expect(watched.locator(".msg.user").last).to_contain_text("a screenshot")


def test_audio_plays_back_from_the_users_message_and_from_a_reply(files_server, watched: Page):
    def speak(message, history):
        import numpy as np

        rate = 8000
        tone = 0.2 * np.sin(2 * np.pi * 330 * np.arange(rate * 2) / rate)
        return ["Here is a tone:", media.Audio((rate, tone))]

    url = files_server(speak)
    watched.goto(url)
    watched.locator("#composer-file-input").set_input_files(
        payload("tone.wav", "audio/wav", samples.wav(1.0))
    )
    watched.locator("#composer-text").fill("play it back")
    watched.locator("#composer-text").press("Enter")
    mine = watched.locator(".msg.user audio")
    expect(mine).to_have_count(1)
    expect(watched.locator(".reply audio")).to_have_count(1)
    for audio, seconds in ((mine, 1.0), (watched.locator(".reply audio"), 2.0)):
        audio.evaluate("a => a.readyState >= 1 || new Promise(r => a.addEventListener('loadedmetadata', r))")
        assert audio.evaluate("a => a.duration") == pytest.approx(seconds, abs=0.05)
        audio.evaluate("a => { a.muted = true; return a.play(); }")
        watched.wait_for_function("a => a.currentTime > 0.1", arg=audio.element_handle())
        audio.evaluate("a => { a.currentTime = a.duration / 2; }")  # seeking needs Range requests
        watched.wait_for_function(
            "a => !a.seeking && a.currentTime >= a.duration / 2 - 0.05", arg=audio.element_handle()
        )
        audio.evaluate("a => a.pause()")


def test_a_file_over_the_limit_is_refused_in_the_composer_and_nothing_is_lost(files_server, watched: Page):
    url = files_server(max_file_size=2000)
    watched.goto(url)
    box = watched.locator("#composer-text")
    box.fill("my words stay")
    watched.locator("#composer-file-input").set_input_files(
        [
            payload("small.png", "image/png", samples.png()),
            payload("big.bin", "application/octet-stream", b"x" * 5000),
        ]
    )
    expect(watched.locator(".composer-error")).to_have_text(
        "big.bin is larger than 2 KB, the most one file may be."
    )
    assert attached_names(watched) == ["small.png"]
    # The server checks too: a page whose limit is out of date gets the server's words.
    watched.locator("#composer").evaluate("form => { form.dataset.maxFileSize = '99999999'; }")
    watched.locator("#composer-file-input").set_input_files(
        payload("big.bin", "application/octet-stream", b"x" * 5000)
    )
    assert attached_names(watched) == ["small.png", "big.bin"]
    box.press("Enter")
    expect(watched.locator(".composer-error")).to_contain_text(
        "big.bin is larger than 2 KB, the most one file may be."
    )
    expect(box).to_have_value("my words stay")
    assert attached_names(watched) == ["small.png", "big.bin"]
    expect(watched.locator(".msg.user")).to_have_count(0)
    watched.get_by_role("button", name="Remove big.bin").click()
    box.press("Enter")
    expect(watched.locator(".msg.user .file-image img")).to_have_count(1)
    expect(box).to_have_value("")


def test_a_proxys_413_page_becomes_the_composer_message(files_server, watched: Page):
    url = files_server()
    watched.goto(url)
    nginx = (
        "<html><head><title>413 Request Entity Too Large</title></head>"
        "<body><center><h1>413 Request Entity Too Large</h1></center></body></html>"
    )
    watched.route("**/turns", lambda route: route.fulfill(status=413, body=nginx, content_type="text/html"))
    watched.locator("#composer-file-input").set_input_files(payload("cat.png", "image/png", samples.png()))
    box = watched.locator("#composer-text")
    box.fill("hello")
    box.press("Enter")
    expect(watched.locator(".composer-error")).to_contain_text("This message is too large to send.")
    assert "413" not in watched.locator("#messages").inner_text()
    expect(box).to_have_value("hello")
    assert attached_names(watched) == ["cat.png"]


def test_an_svg_with_script_downloads_and_never_runs(files_server, watched: Page):
    url = files_server()
    watched.goto(url)
    watched.locator("#composer-file-input").set_input_files(
        payload("logo.svg", "image/svg+xml", samples.SVG_WITH_SCRIPT)
    )
    watched.locator("button.send").click()
    chip = watched.locator(".msg.user a.file-chip")
    expect(chip).to_have_text(f"logo.svg {len(samples.SVG_WITH_SCRIPT)} bytes")
    expect(watched.locator(".msg.user img")).to_have_count(0)
    with watched.expect_download() as download:
        chip.click()
    assert download.value.suggested_filename == "logo.svg"
    # Even opened directly, it is a download, not a document on our origin.
    file_url = url + chip.get_attribute("href")
    other = watched.context.new_page()
    with other.expect_download():
        try:
            other.goto(file_url)
        except Exception as error:  # Chromium reports a navigation that became a download
            assert "Download is starting" in str(error)
    other.close()


def test_undo_puts_the_files_back_in_the_composer_and_send_sends_them_again(files_server, watched: Page):
    url = files_server()
    watched.goto(url)
    with watched.expect_file_chooser() as chooser:
        watched.locator("label.attach").click()
    chooser.value.set_files(payload("cat.png", "image/png", samples.png((40, 30))))
    box = watched.locator("#composer-text")
    box.fill("what is this?")
    box.press("Enter")
    expect(watched.locator(".reply").last).to_contain_text("Got 1 file(s): cat.png")
    watched.locator(".reply").last.get_by_role("button", name="Undo").click()
    expect(watched.locator(".msg.user")).to_have_count(0)
    expect(box).to_have_value("what is this?")
    chip = watched.locator("#composer-files .attachment.kept")
    expect(chip).to_have_count(1)
    expect(chip.locator(".attachment-name")).to_have_text("cat.png")
    expect(chip.locator(".size")).to_have_text(f"{len(samples.png((40, 30)))} bytes")
    expect(chip.get_by_role("button", name="Remove cat.png")).to_be_visible()
    assert chip.locator('input[name="kept_files"]').evaluate("input => input.form.id") == "composer"
    ARTIFACTS.mkdir(exist_ok=True)
    watched.locator("#composer").screenshot(path=str(ARTIFACTS / "undo-files.png"))
    watched.locator("button.send").click()
    watched.wait_for_function(
        "() => document.querySelector('.msg.user .file-image img')?.naturalWidth === 40"
    )
    expect(watched.locator(".msg.user").last).to_contain_text("what is this?")
    expect(watched.locator(".reply").last).to_contain_text("Got 1 file(s): cat.png")
    expect(watched.locator("#composer-files .attachment")).to_have_count(0)
    expect(box).to_have_value("")


def test_a_kept_file_can_be_removed_and_undo_replaces_what_was_attached(files_server, watched: Page):
    url = files_server(max_files=2)
    watched.goto(url)
    watched.locator("#composer-file-input").set_input_files(
        [payload("a.txt", "text/plain", b"aaa"), payload("b.txt", "text/plain", b"bbb")]
    )
    watched.locator("button.send").click()
    expect(watched.locator(".reply").last).to_contain_text("Got 2 file(s): a.txt, b.txt")
    # Attached before undo: the undone message's files take its place, as its text takes the box's.
    watched.locator("#composer-file-input").set_input_files(payload("stray.txt", "text/plain", b"x"))
    assert attached_names(watched) == ["stray.txt"]
    watched.locator(".reply").last.get_by_role("button", name="Undo").click()
    expect(watched.locator("#composer-files .kept")).to_have_count(2)
    assert attached_names(watched) == ["a.txt", "b.txt"]
    assert watched.locator("#composer-file-input").evaluate("input => input.files.length") == 0
    # Kept files count toward the limit here as on the server.
    watched.locator("#composer-file-input").set_input_files(payload("c.txt", "text/plain", b"ccc"))
    expect(watched.locator(".composer-error")).to_have_text("At most 2 files can go in one message.")
    assert attached_names(watched) == ["a.txt", "b.txt"]
    watched.get_by_role("button", name="Remove a.txt").click()
    expect(watched.locator('#composer input[name="kept_files"]')).to_have_count(1)
    watched.locator("#composer-file-input").set_input_files(payload("c.txt", "text/plain", b"ccc"))
    assert attached_names(watched) == ["b.txt", "c.txt"]
    watched.locator("button.send").click()
    expect(watched.locator(".reply").last).to_contain_text("Got 2 file(s): b.txt, c.txt")
    expect(watched.locator("#composer-files .attachment")).to_have_count(0)
