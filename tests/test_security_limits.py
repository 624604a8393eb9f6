"""Attacker: a client that floods the server. Every limit has a setting and a default; over a
limit the user gets a clear message, nothing already stored is lost, and others are unaffected."""

from __future__ import annotations

import contextlib
import threading
import time
from io import BytesIO

import pytest
from conftest import TURN_ID, csrf_of
from webclient import WS_URL, PageClient
from websockets.exceptions import ConnectionClosed

from webchat.settings import Settings
from webchat.web.page import Page

HX = {"HX-Request": "true"}


def test_limits_have_defaults():
    # Defends against a limit being silently off in a default install.
    settings = Settings()
    assert settings.max_message_chars > 0 and settings.messages_per_minute > 0
    assert settings.max_running_turns > 0 and settings.max_socket_message > 0
    assert settings.max_sockets_per_owner > 0


def test_messages_per_minute(make_app):
    # Defends against one session flooding the model server.
    app = make_app(lambda message, history: "ok", messages_per_minute=3)
    client = app.test_client()
    token = csrf_of(client)
    codes = [
        client.post("/turns", data={"text": f"m{i}"}, headers={**HX, "X-CSRF-Token": token}).status_code
        for i in range(4)
    ]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429
    response = client.post("/turns", data={"text": "again"}, headers={**HX, "X-CSRF-Token": token})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.headers["HX-Retarget"] == "#composer-status"  # said next to the composer
    assert "faster than 3 a minute" in response.get_data(as_text=True)
    other = app.test_client()  # another session is not affected
    assert (
        other.post("/turns", data={"text": "hi"}, headers={**HX, "X-CSRF-Token": csrf_of(other)}).status_code
        == 200
    )


def test_replies_running_at_once(make_app):
    # Defends against one session occupying every model slot with parallel conversations.
    release = threading.Event()

    def slow(message, history):
        yield "working"
        release.wait(10)

    app = make_app(slow, max_running_turns=2)
    client = app.test_client()
    token = csrf_of(client)
    try:
        codes = [
            client.post("/turns", data={"text": "x"}, headers={**HX, "X-CSRF-Token": token}).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        # The refused message made no conversation (an empty one in the sidebar, before).
        owner = app.extensions["webchat"].store.running_turns()[0].owner
        assert len(app.extensions["webchat"].store.list_conversations(owner)) == 2
    finally:
        release.set()


def test_request_body_size(make_app):
    # Defends against memory exhaustion by huge form posts.
    app = make_app()
    client = app.test_client()
    token = csrf_of(client)
    limit = app.config.get("MAX_CONTENT_LENGTH")
    assert limit, "a request body limit is configured"
    response = client.post("/turns", data={"text": "x" * (limit + 1)}, headers={**HX, "X-CSRF-Token": token})
    assert response.status_code == 413
    assert "HX-Retarget" in response.headers


@pytest.mark.parametrize("size", [100_000, 2 * 1024 * 1024])
def test_a_huge_websocket_frame_closes_only_that_socket(live_server, size):
    # Defends against a client sending a 100 MB frame to exhaust memory: past the cap (64 KB) the
    # server stops reading and closes that socket with 1009 at once (the TCP connection too: it
    # used to linger 20 s while the reply streamed on); the reply and other users go on.
    release = threading.Event()

    def slow(message, history):
        text = "streaming"
        while not release.is_set():  # keeps sending while the client's frame arrives
            yield text
            text += "."
            release.wait(0.02)
        yield "streaming, done"

    server = live_server(slow)
    page = PageClient(server.url)
    reply = page.send("hi")
    ws_url = WS_URL.search(reply.text).group(1).replace("&amp;", "&")
    try:
        with page.socket(ws_url) as ws:
            ws.recv(timeout=10)
            ws.send("x" * size)
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=10)
            assert ws.close_code == 1009
        other = PageClient(server.url)
        assert other.send("still there?").status == 200
    finally:
        release.set()
    snapshot = server.app.extensions["webchat"].hub.wait_final(TURN_ID.search(reply.text).group(1), 10)
    assert snapshot.final and snapshot.stored[0].message.content == "streaming, done"


def test_many_sockets_from_one_session_are_capped_and_others_still_work(live_server):
    # Defends against one client opening hundreds of sockets to starve the server.
    release = threading.Event()

    def slow(message, history):
        yield "streaming"
        release.wait(20)

    server = live_server(slow, max_sockets_per_owner=4)
    page = PageClient(server.url)
    reply = page.send("hi")
    ws_url = WS_URL.search(reply.text).group(1)
    refused = 0
    with contextlib.ExitStack() as stack:
        try:
            sockets = [stack.enter_context(page.socket(ws_url)) for _ in range(40)]
            time.sleep(0.5)
            for ws in sockets:
                try:
                    ws.recv(timeout=2)
                except ConnectionClosed:
                    refused += ws.close_code == 1013
                except TimeoutError:
                    pass
            assert refused == 36
            other = PageClient(server.url)
            assert other.get("/").status == 200  # served while all 40 sockets are still held open
        finally:
            release.set()


def test_over_a_limit_nothing_stored_is_lost(make_app):
    # Defends against a refusal that drops the conversation or the user's earlier messages.
    app = make_app(lambda message, history: "kept", messages_per_minute=1)
    client = app.test_client()
    token = csrf_of(client)
    first = client.post("/turns", data={"text": "first"}, headers={**HX, "X-CSRF-Token": token})
    url = first.headers["HX-Push-Url"]
    app.extensions["webchat"].hub.wait_final(TURN_ID.search(first.get_data(as_text=True)).group(1), 5)
    conversation_id = url.rsplit("/", 1)[1]
    refused = client.post(
        "/turns",
        data={"text": "second", "conversation_id": conversation_id},
        headers={**HX, "X-CSRF-Token": token},
    )
    assert refused.status_code == 429
    page = client.get(url).get_data(as_text=True)
    assert "first" in page and "kept" in page


# Per client address: a client that drops its cookie (a new session per request) gets no fresh
# limits. The test client sends from the REMOTE_ADDR it is given.


def session_from(app, address: str, **headers: str):
    """A new browser session (its own cookie) whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_of(client)
    return lambda path, **data: client.post(path, data=data, headers={**HX, "X-CSRF-Token": token, **headers})


def test_dropping_the_cookie_does_not_reset_the_message_rate(make_app):
    app = make_app(lambda message, history: "ok", messages_per_minute=20, client_messages_per_minute=3)
    codes = [session_from(app, "203.0.113.7")("/turns", text=f"m{i}").status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = session_from(app, "203.0.113.7")("/turns", text="again")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "network address" in refused.get_data(as_text=True)
    assert session_from(app, "203.0.113.8")("/turns", text="hi").status_code == 200  # another address
    # IPv6: one host has a whole /64, so its addresses count together
    v6 = [session_from(app, f"2001:db8:1:2::{n}")("/turns", text="hi").status_code for n in range(1, 5)]
    assert v6 == [200, 200, 200, 429]
    assert session_from(app, "2001:db8:1:3::1")("/turns", text="hi").status_code == 200


def test_the_address_behind_a_trusted_proxy_is_the_one_it_reports(make_app):
    app = make_app(lambda message, history: "ok", client_messages_per_minute=1, proxy_hops=1)
    assert (
        session_from(app, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"})("/turns", text="a").status_code
        == 200
    )
    assert (
        session_from(app, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.2"})("/turns", text="b").status_code
        == 200
    )
    again = session_from(app, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"})("/turns", text="c")
    assert again.status_code == 429
    # without --proxy-hops the header is the client's word, and ignored: one address, one count
    direct = make_app(lambda message, history: "ok", client_messages_per_minute=1)
    assert (
        session_from(direct, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.1"})(
            "/turns", text="a"
        ).status_code
        == 200
    )
    assert (
        session_from(direct, "127.0.0.1", **{"X-Forwarded-For": "198.51.100.9"})(
            "/turns", text="b"
        ).status_code
        == 429
    )


def test_replies_running_at_once_are_counted_per_address_too(make_app):
    release = threading.Event()

    def slow(message, history):
        yield "working"
        release.wait(10)

    app = make_app(slow, client_max_running_turns=1)
    try:
        assert session_from(app, "203.0.113.7")("/turns", text="one").status_code == 200
        refused = session_from(app, "203.0.113.7")("/turns", text="two")
        assert refused.status_code == 429 and "being written for your network address" in refused.get_data(
            as_text=True
        )
        assert session_from(app, "203.0.113.8")("/turns", text="other").status_code == 200
    finally:
        release.set()


def test_the_upload_quota_is_per_address_too(make_app):
    app = make_app(
        lambda message, history: "ok", page=Page(multimodal=True), client_upload_bytes_per_hour=1500
    )
    first = session_from(app, "203.0.113.7")("/turns", text="a", files=(BytesIO(b"x" * 1000), "a.txt"))
    assert first.status_code == 200
    send = session_from(app, "203.0.113.7")
    refused = send("/turns", text="keep me", files=(BytesIO(b"y" * 1000), "b.txt"))
    assert refused.status_code == 429, refused.get_data(as_text=True)
    assert "past 1.5 KB of uploads in an hour" in refused.get_data(as_text=True)
    with app.app_context():  # the refused file is not kept
        names = {
            p.name for p in (app.extensions["webchat"].settings.data_dir / "files").rglob("*") if p.is_file()
        }
    assert "b.txt" not in names and "a.txt" in names


def test_sockets_are_counted_per_address_too(live_server):
    release = threading.Event()

    def slow(message, history):
        yield "streaming"
        release.wait(10)

    server = live_server(slow, client_max_sockets=1)
    pages = [PageClient(server.url), PageClient(server.url)]  # two sessions, one address (127.0.0.1)
    urls = [WS_URL.search(page.send("hi").text).group(1).replace("&amp;", "&") for page in pages]
    try:
        with pages[0].socket(urls[0]) as first:
            first.recv(timeout=10)
            with pages[1].socket(urls[1]) as second, pytest.raises(ConnectionClosed):
                while True:
                    second.recv(timeout=10)
            assert second.close_code == 1013
    finally:
        release.set()
