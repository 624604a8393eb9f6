"""Images against the real llama.cpp server with SmolLM2, which has no vision projector: the
refusal reads clearly in the chat, and the conversation goes on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import samples
from conftest import settings_for
from webclient import TURN_ID, WS_URL, PageClient, frames_until_close
from werkzeug.serving import make_server

from webchat.app import create_app

pytestmark = pytest.mark.model


def final_of(page: PageClient, reply) -> str:
    assert reply.status == 200, reply.text
    with page.socket(WS_URL.search(reply.text).group(1)) as ws:
        return frames_until_close(ws, timeout=90)[-1]["content"]


def test_an_image_sent_to_a_model_without_vision_gives_a_clear_message_and_the_chat_goes_on(
    tmp_path: Path, default_gguf: Path
):
    settings = settings_for(tmp_path, backend="local", gguf=default_gguf, max_tokens=24, temperature=0.0)
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = PageClient(f"http://127.0.0.1:{server.server_port}")
        first = page.send_files("What is in this picture?", [("cat.png", samples.png((32, 32)))])
        conversation_id = first.headers["HX-Push-Url"].rsplit("/", 1)[1]
        refused = final_of(page, first)
        assert "error-bubble" in refused and "Retry" in refused
        assert f"The local model ({default_gguf.name}) cannot read images" in refused
        assert "image input is not supported" in refused  # llama.cpp's own words
        assert "Traceback" not in refused and "HfHubHTTPError" not in refused

        # The conversation stays usable: Retry now answers (the image described by name)...
        turn_id = TURN_ID.search(first.text).group(1)
        retried = page.request(
            "POST", f"/turns/{turn_id}/retry", {}, {"HX-Request": "true", "X-CSRF-Token": page.csrf}
        )
        again = final_of(page, retried)
        assert "error-bubble" not in again and 'class="msg assistant"' in again
        # ...and so does the next message.
        later = final_of(page, page.send("Say hello.", conversation_id))
        assert "error-bubble" not in later and 'class="msg assistant"' in later
        page_html = page.get(f"/c/{conversation_id}").text
        assert "cannot read images" not in page_html and "cat.png" in page_html
    finally:
        server.shutdown()
        app.extensions["webchat"].backend.process.stop()
