"""Real Gradio chat programs (tests/gradio_programs/, Gradio's own demos with only the import
changed), each started as written (``python program.py``) and used in Chromium by one generic
driver that does what a visitor would: send a message if there is a message box, otherwise press
each button and pick the first choice of each radio; then checks that the page answered and shows
no error. A program webchat refuses must fail at start naming what it does not support.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import samples

PROGRAMS = Path(__file__).parent / "gradio_programs"
# Programs webchat refuses, and the words their refusal must say (what, and why).
REFUSED = {
    "chatinterface_deep_link": "gr.DeepLinkButton is not supported",
}
ALL = sorted(p.stem for p in PROGRAMS.glob("*.py"))
ERRORS = ".composer-error, .error-bubble, .gr-error:not(:empty)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_with_media(program: Path, folder: Path) -> Path:
    """The program in a folder of its own, with the media files Gradio's demos keep beside them
    (``files/avatar.png``, ``files/cantina.wav``) made here: the demos' own are not copied."""
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "avatar.png").write_bytes(samples.png((32, 32), "orange"))
    (folder / "files" / "cantina.wav").write_bytes(samples.wav(0.5))
    copied = folder / program.name
    shutil.copy(program, copied)
    return copied


def start(program: Path, data: Path) -> tuple[subprocess.Popen[str], int, list[str]]:
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "WEBCHAT_DATA_DIR": str(data),
        "WEBCHAT_SECRET_KEY": "t",
    }
    proc = subprocess.Popen(
        [sys.executable, program.name], cwd=program.parent, env=env, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    said = [proc.stderr.readline()]
    while "webchat is running at" not in said[-1]:
        if not said[-1]:
            proc.wait(30)
            return proc, port, said
        said.append(proc.stderr.readline())
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe from filling
    return proc, port, said


def drive(page: Any) -> None:
    """The generic visitor: one message, or every button and the first choice of each radio."""
    from playwright.sync_api import expect

    page.wait_for_load_state("networkidle")
    box = page.locator("#composer-text")
    examples = page.locator("#empty .example")
    if examples.count() and not (box.count() and box.is_visible()):
        # A Chatbot's examples with an example_select handler: choosing one runs it.
        examples.first.click()
        expect(page.locator(".msg")).not_to_have_count(0, timeout=30_000)
    elif box.count() and box.is_visible():
        before = page.locator(".msg").count()
        box.fill("Hello, write some python")
        box.press("Enter")
        expect(page.locator(".msg")).not_to_have_count(before, timeout=30_000)
        expect(page.locator(".reply.streaming")).to_have_count(0, timeout=60_000)
        expect(box).to_be_enabled(timeout=30_000)  # a box made read-only while it streamed is back
    else:
        for button in page.locator("button.gr-button:not([disabled]):visible").all():
            button.click()
            page.wait_for_load_state("networkidle")
        for radio in page.locator(".gr-radio fieldset").all():
            radio.locator("input").first.check()
            page.wait_for_load_state("networkidle")
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
@pytest.mark.parametrize("name", ALL)
def test_a_real_gradio_program_runs_unchanged(name: str, tmp_path: Path, watched: Any) -> None:
    from playwright.sync_api import expect

    program = copy_with_media(PROGRAMS / f"{name}.py", tmp_path / "program")
    proc, port, said = start(program, tmp_path / "data")
    try:
        if name in REFUSED:
            assert proc.poll() is not None, "a refused program must not start"
            assert REFUSED[name] in "".join(said), said
            return
        assert proc.poll() is None, "".join(said)
        watched.goto(f"http://127.0.0.1:{port}/")
        shown = watched.locator("main").inner_html()
        drive(watched)
        expect(watched.locator(ERRORS)).to_have_count(0)
        after = watched.locator("main").inner_html()
        assert after != shown or watched.locator(".msg, .gr-item").count() > 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def test_the_corpus_runs_at_least_95_percent_unchanged() -> None:
    """The share of programs that run (the others are refused, each naming why)."""
    assert len(ALL) >= 32
    # 34 of 35 today (only gr.DeepLinkButton is refused: a conversation belongs to its owner,
    # so a link to it shows nothing to anybody else); the issue asks more than Gradio 5's 29 of 32.
    assert (len(ALL) - len(REFUSED)) / len(ALL) >= 0.95


@pytest.mark.browser
def test_retry_and_undo_run_the_programs_own_handlers_in_chromium(tmp_path: Path, watched: Any) -> None:
    """Gradio's retry/undo demo: Retry streams its retry handler's answer, Undo runs its undo
    handler (the turn goes, the message is back in the box)."""
    from playwright.sync_api import expect

    program = copy_with_media(PROGRAMS / "chatbot_retry_undo_like.py", tmp_path / "program")
    proc, port, said = start(program, tmp_path / "data")
    try:
        assert proc.poll() is None, "".join(said)
        watched.goto(f"http://127.0.0.1:{port}/")
        box = watched.locator("#composer-text")
        box.fill("hello")
        box.press("Enter")
        expect(watched.locator(".reply .msg.assistant")).to_have_text("Answer 1 to: hello", timeout=30_000)
        expect(watched.locator(".msg.system")).to_have_count(0)  # kept in the history, not shown
        watched.locator(".reply-actions .retry button").click()
        expect(watched.locator(".reply .msg.assistant")).to_have_text("Answer 2 to: hello", timeout=30_000)
        expect(watched.locator(".msg.user")).to_have_count(1)
        watched.locator(".reply-actions button.undo").click()
        expect(watched.locator(".msg")).to_have_count(0, timeout=30_000)
        expect(box).to_have_value("hello")
        expect(watched.locator(ERRORS)).to_have_count(0)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.browser
def test_an_editable_chatbot_is_edited_in_place_in_chromium(tmp_path: Path, watched: Any) -> None:
    """Gradio's chatbot_editable demo: a message edited in place; its edit and change handlers'
    outputs shown."""
    from playwright.sync_api import expect

    program = copy_with_media(PROGRAMS / "chatbot_editable.py", tmp_path / "program")
    proc, port, said = start(program, tmp_path / "data")
    try:
        assert proc.poll() is None, "".join(said)
        watched.goto(f"http://127.0.0.1:{port}/")
        watched.get_by_role("button", name="Add Message").click()
        expect(watched.locator(".msg.user")).to_have_count(1, timeout=30_000)
        watched.locator(".input a.edit").click()
        watched.locator("textarea.edit-text").fill("I was edited")
        watched.get_by_role("button", name="Save").click()
        expect(watched.locator(".msg.user")).to_have_text("I was edited", timeout=30_000)
        expect(watched.get_by_label("Edited Message")).to_have_value("from I'm a user to I was edited at 0")
        expect(watched.get_by_label("Concatenated Chat 1")).to_have_value("I was edited|I'm a bot")
        watched.reload()
        expect(watched.locator(".msg.user")).to_have_text("I was edited")  # stored
        expect(watched.locator(ERRORS)).to_have_count(0)
    finally:
        proc.terminate()
        proc.wait(10)
