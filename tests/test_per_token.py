"""The per-token path, made lean for many concurrent replies: each piece still does exactly what the
general code did (same messages, same websocket frames, same wake-ups)."""

from __future__ import annotations

import json
import socket
import threading
import time
from types import SimpleNamespace

import pytest
import simple_websocket.ws
from simple_websocket import ConnectionClosed
from webclient import WS_URL, PageClient, frames_until_close
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol

from webchat.chat import text_reply, to_reply
from webchat.hub.memory import Hub
from webchat.messages import ChatMessage
from webchat.store import Turn
from webchat.web.stream import send_text


def test_a_text_reply_is_the_message_the_validating_constructor_builds():
    fast, slow = text_reply("**so far**"), ChatMessage(content="**so far**")
    assert fast == slow and fast.to_dict() == slow.to_dict()
    assert to_reply("**so far**", [], "hi") == [slow]
    fast.metadata["title"] = "changed"  # each message has its own metadata and options
    assert text_reply("x").metadata == {} and text_reply("x").options == []


class FakeServerSocket:
    """What send_text needs of simple-websocket's Server: a socket, a state, and wsproto's
    connection, whose frame protocol lists the extensions the handshake negotiated."""

    def __init__(self, sock: socket.socket, extensions: list | None = None) -> None:
        self.sock = sock
        self.connected = True
        self.close_reason, self.close_message = 1006, None
        proto = SimpleNamespace(extensions=extensions or [])
        self.ws = SimpleNamespace(connection=SimpleNamespace(_proto=proto))
        self.sent_by_wsproto: list[str] = []

    def send(self, data: str) -> None:
        self.sent_by_wsproto.append(data)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 200_000])
def test_frames_built_by_hand_parse_as_the_same_text_message(size):
    server, client = socket.socketpair()
    text = ("é" * size)[:size]  # non-ASCII: the length is in bytes, not characters
    with server, client:
        ws = FakeServerSocket(server)
        reader = threading.Thread(target=lambda: send_text(ws, text))
        reader.start()
        expected = len(text.encode())
        data = b""
        client.settimeout(5)
        while len(data) < expected + 2:
            data += client.recv(1 << 20)
            if len(data) >= expected + (2 if expected < 126 else 4 if expected < 65536 else 10):
                break
        reader.join(5)
    proto = FrameProtocol(client=True, extensions=[])
    proto.receive_bytes(data)
    frames = list(proto.received_frames())
    assert len(frames) == 1 and frames[0].message_finished
    assert frames[0].payload == text
    assert not ws.sent_by_wsproto


def test_with_an_extension_negotiated_wsproto_frames_it():
    server, client = socket.socketpair()
    with server, client:
        ws = FakeServerSocket(server, extensions=[PerMessageDeflate()])  # as after negotiation
        send_text(ws, "hello")
    assert ws.sent_by_wsproto == ["hello"]


def test_sending_on_a_closed_socket_raises_connection_closed():
    server, client = socket.socketpair()
    client.close()
    ws = FakeServerSocket(server)
    ws.connected = False
    with pytest.raises(ConnectionClosed):
        send_text(ws, "late")
    ws.connected = True
    with pytest.raises(ConnectionClosed):
        for _ in range(100):  # the peer is gone: the kernel refuses once its buffer is full
            send_text(ws, "x" * 100_000)
    assert ws.connected is False
    server.close()


def test_a_waiting_subscriber_wakes_on_every_change_and_misses_none():
    hub = Hub()
    turn = Turn("t1", "c1", "s:x", "running", time.time())
    hub.open(turn)
    seen: list[str] = []

    def subscriber() -> None:
        version = -1
        while True:
            snapshot = hub.wait("t1", version, 5)
            version = snapshot.version
            seen.append(snapshot.tail_text)
            if snapshot.final:
                return

    thread = threading.Thread(target=subscriber)
    thread.start()
    text = ""
    for i in range(200):
        text += f"{i:03d} "
        hub.publish("t1", [text_reply(text)])
    hub.claim_finish("t1", "done")
    hub.finished("t1", [])
    thread.join(5)
    assert not thread.is_alive()
    assert seen and seen[-1] == text  # tokens may be coalesced, never lost


def test_wait_returns_after_its_timeout_when_nothing_changes():
    hub = Hub()
    hub.open(Turn("t2", "c1", "s:x", "running", time.time()))
    started = time.monotonic()
    snapshot = hub.wait("t2", 0, 0.2)
    assert time.monotonic() - started >= 0.15 and snapshot.version == 0
    assert hub.wait_final("t2", 0.1).final is False


def test_a_real_socket_takes_the_hand_built_path(live_server, monkeypatch):
    """simple-websocket's own send (wsproto framing) is not used for a reply's frames."""
    framed_by_wsproto = []
    original = simple_websocket.ws.Base.send
    monkeypatch.setattr(
        simple_websocket.ws.Base,
        "send",
        lambda ws, data: framed_by_wsproto.append(data) or original(ws, data),
    )
    more = threading.Event()  # the rest only once the first word arrived: a delta for sure

    def fn(message, history):
        yield "one"
        more.wait(60)
        yield "one two three"

    server = live_server(fn)
    page = PageClient(server.url)
    reply = page.send("hello")
    with page.socket(WS_URL.search(reply.text).group(1)) as ws:
        first = json.loads(ws.recv(timeout=60))
        more.set()
        frames = [first, *frames_until_close(ws)]
    assert first == {"d": "one"} and frames[-1]["swap"] == "outerHTML"
    assert framed_by_wsproto == []


def test_sockets_refuse_permessage_deflate(live_server):
    """Browsers offer compression; tokens are a few bytes and each compressed socket would keep
    ~130 KB of zlib state, so the server declines and every frame goes out as it is."""
    server = live_server()
    page = PageClient(server.url)
    reply = page.send("hello")
    with page.socket(WS_URL.search(reply.text).group(1)) as ws:  # offers permessage-deflate
        assert "permessage-deflate" in str(ws.request.headers.get("Sec-WebSocket-Extensions"))
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        frames = frames_until_close(ws)
    assert frames[-1]["swap"] == "outerHTML"
