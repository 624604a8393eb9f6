"""Media a chat function gives as an http(s) URL is downloaded (as Gradio does), safely: public
addresses only (or networks the settings allow), redirects checked, a size cap and a deadline.

The server here is real, on 127.0.0.1, which is exactly the kind of address a reply must not make
webchat fetch; the tests that fetch from it allow 127.0.0.1 explicitly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import samples
from conftest import TURN_ID, csrf_of

import webchat as gr
from webchat.files.remote import RemoteFileError, fetch, parse_networks

PNG = samples.png((8, 6), "blue")
LOOPBACK = parse_networks(["127.0.0.1/32"])
asked: list[str] = []


class Media(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        asked.append(self.path)
        if self.path == "/cat.png":
            self._send(200, PNG, "image/png")
        elif self.path == "/moved":
            self._redirect("/cat.png")
        elif self.path == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif self.path == "/big":
            self._send(200, b"x" * 5000, "application/octet-stream")
        elif self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"x" * 100)
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._send(404, b"no", "text/plain")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Media)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_public_only_fetch_refuses_the_loopback_without_connecting(base: str, tmp_path: Path) -> None:
    asked.clear()
    with pytest.raises(RemoteFileError, match="private or local address"):
        fetch(f"{base}/cat.png", tmp_path, max_bytes=10_000)
    assert asked == []  # refused before any request


def test_an_allowed_network_is_fetched_and_redirects_are_followed(base: str, tmp_path: Path) -> None:
    path = fetch(f"{base}/moved", tmp_path, max_bytes=10_000, allowed=LOOPBACK)
    assert path.name == "cat.png" and path.read_bytes() == PNG


def test_a_redirect_to_a_private_address_is_refused(base: str, tmp_path: Path) -> None:
    with pytest.raises(RemoteFileError, match=r"169\.254\.169\.254.*private or local"):
        fetch(f"{base}/to-metadata", tmp_path, max_bytes=10_000, allowed=LOOPBACK)


@pytest.mark.parametrize(
    ("url", "kwargs", "says"),
    [
        ("/big", {"max_bytes": 1000}, "larger than"),
        ("/slow", {"max_bytes": 100_000, "deadline_seconds": 0.5}, "took too long"),
        ("/missing", {"max_bytes": 1000}, "answered 404"),
    ],
)
def test_what_cannot_be_fetched_says_why_and_leaves_nothing(base, tmp_path, url, kwargs, says) -> None:
    with pytest.raises(RemoteFileError, match=says):
        fetch(base + url, tmp_path, allowed=LOOPBACK, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://127.0.0.1/x", "only http and https"),
        ("http://user:pw@127.0.0.1/x", "user name or password"),
        ("http://no-such-host.invalid/x", "is not known"),
        ("http://[::1]/x", "private or local"),
        ("http://10.0.0.1/x", "private or local"),
    ],
)
def test_bad_links_are_refused(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(RemoteFileError, match=says):
        fetch(url, tmp_path, max_bytes=1000)


def reply_page(make_app, base: str, **settings) -> str:
    def answer(message, history):
        return gr.Image(f"{base}/cat.png")

    app = make_app(answer, **settings)
    client = app.test_client()
    sent = client.post(
        "/turns", data={"text": "a cat?"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf_of(client)}
    )
    app.extensions["webchat"].hub.wait_final(TURN_ID.search(sent.get_data(as_text=True)).group(1), 20)
    return client.get(sent.headers["HX-Push-Url"]).get_data(as_text=True)


def test_a_chat_functions_image_link_is_downloaded_and_shown(make_app, base: str) -> None:
    page = reply_page(make_app, base, fetch_allow_networks=("127.0.0.1/32",))
    assert '<a class="file-image" href="/files/' in page and "cat.png" in page


def test_a_link_to_a_private_address_shows_why_in_the_chat(make_app, base: str) -> None:
    page = reply_page(make_app, base)
    assert "a link that cannot be shown" in page and "private or local address" in page
