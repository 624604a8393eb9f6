"""The websocket that streams one turn's reply to the page.

Frames are JSON, in htmx 4's ``hx-ws`` format where htmx swaps them:

- ``{"d": text}``: text appended to the reply (app.js adds it to the tail; no HTML involved);
- ``{"content": html}``: the reply so far, rendered, swapped into the placeholder;
- ``{"content": html, "swap": "outerHTML"}``: the final reply, which replaces the placeholder
  (the socket's own element) and so drops ``hx-ws:connect``: htmx closes the socket;
- ``{"content": html, "target": "body", "swap": "none"}``: on a program's page whose chat event
  has other outputs (a Blocks app's Textbox, Markdown...), the ones it changed as the reply moved
  on, as out-of-band swaps (:func:`webchat.web.events.live_outputs`). Other pages never ask for them.

Per token the server only compares strings and sends the new suffix: Markdown is rendered at
most every RENDER_INTERVAL, and only when the new text could change the rendering.
"""

from __future__ import annotations

import json
import re
import socket
import time
from contextlib import suppress
from typing import Any

from flask import render_template, request
from simple_websocket import ConnectionClosed
from wsproto.utilities import LocalProtocolError

from webchat.hub import Snapshot
from webchat.store import Turn
from webchat.web.events import live_outputs
from webchat.web.grouping import Group, groups
from webchat.web.services import services
from webchat.web.session import client_key, current_owner, same_origin, signed_out

RENDER_INTERVAL = 0.25
WAIT_SECONDS = 5.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
# Text that Markdown would draw differently from plain text (emphasis, code, lists, links, math...).
_MARKUP = re.compile(r"[*_`#|\[\]$\\~<>!\n]|\d\.|https?:")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def frame(data: dict[str, Any]) -> str:
    return _encode(data)  # one encoder for all: json.dumps builds a new one per call (7 vs 1 µs)


def send_text(ws: Any, data: str) -> None:
    """Send one text frame. With no extension negotiated (webchat refuses permessage-deflate) the
    frame is built here and written in one call: per token, wsproto's framing cost more than the
    system call. Anything unexpected falls back to simple-websocket's own ``send``."""
    proto = getattr(getattr(getattr(ws, "ws", None), "connection", None), "_proto", None)
    if getattr(proto, "extensions", None) != [] or not hasattr(ws, "sock"):
        ws.send(data)
        return
    if not ws.connected:
        raise ConnectionClosed(ws.close_reason, ws.close_message)
    payload = data.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    try:
        ws.sock.sendall(header + payload)
    except OSError:
        ws.connected = False
        raise ConnectionClosed(ws.close_reason, ws.close_message) from None


def page_state() -> tuple[int, int] | None:
    """What the page already shows of the reply, from the socket URL's ``l`` (layout) and ``n``
    (characters of the last message's text); None when not given. It spares a render on connect."""
    try:
        layout, chars = int(request.args["l"]), int(request.args["n"])
    except (KeyError, ValueError):
        return None
    return (layout, chars) if layout >= 0 and chars >= 0 else None


def render_body(snapshot: Snapshot) -> str:
    return render_template("partials/reply_body.html", snapshot=snapshot, turn=snapshot.turn)


def render_final(turn: Turn, snapshot: Snapshot | None) -> str:
    stored = list(snapshot.stored) if snapshot else services().store.turn_messages(turn.id, "reply")
    if not stored and turn.status == "running":
        # No runner in this process knows the turn: it was lost with a restart or a crash.
        return render_template(
            "partials/reply.html",
            turn_id=turn.id,
            stored=[],
            status="interrupted",
            error="This reply was interrupted. Retry it.",
        )
    [group] = groups(stored) or [Group("reply", turn.id)]
    return render_template(
        "partials/reply.html",
        records=services().store.turn_records([turn.id]),
        # Only a retry's reply has other versions (the one query it costs is spared the rest).
        versions=services().store.versions(turn.conversation_id, group.messages[:1])
        if turn.inputs_from
        else {},
        turn_id=turn.id,
        stored=group.messages,
        status=group.status,
        error=group.error,
        ended=True,  # a program's page draws what the reply's event left (partials/reply.html)
    )


class TurnStream:
    """Sends one subscriber everything it has not seen yet, until the reply is final."""

    def __init__(self, ws: Any, turn: Turn, shown: tuple[int, int] | None = None) -> None:
        self.ws = ws
        self.turn = turn
        self.hub = services().hub
        self.version = -1
        self.layout = -1
        self.sent = 0  # characters of the last message's text the page has
        self.rendered = 0  # of those, how many the last render included
        self.rendered_at = 0.0
        self.plain = 0  # of those, how many are known to hold no Markdown (not searched again)
        if shown:  # the page drew this state itself: continue from it instead of re-rendering
            self.layout, self.sent = shown
            self.rendered = self.sent
        program = services().page.gradio
        self.live_outputs = program is not None and program.live_outputs

    def run(self) -> None:
        while self.ws.connected:
            snapshot = self.hub.wait(self.turn.id, self.version, WAIT_SECONDS)
            if snapshot is None or snapshot.final:
                self.send_final(snapshot)
                return
            if snapshot.version != self.version:
                self.send_progress(snapshot)
                if self.live_outputs:
                    self.send_outputs()

    def send_progress(self, snapshot: Snapshot) -> None:
        self.version = snapshot.version
        text = snapshot.tail_text
        now = time.monotonic()
        if snapshot.layout != self.layout or len(text) < self.sent:
            self.send_render(snapshot, now)
        elif len(text) > self.sent:
            due = now - self.rendered_at >= RENDER_INTERVAL
            # Search only text not searched yet (a few characters back, for "1." or "https:"
            # across the cut): searching all of it for every token made a long reply quadratic.
            if due and _MARKUP.search(text, max(self.rendered, self.plain - 8)):
                self.send_render(snapshot, now)
            else:
                if due:
                    self.plain = len(text)
                send_text(self.ws, frame({"d": text[self.sent :]}))
                self.sent = len(text)

    def send_render(self, snapshot: Snapshot, now: float) -> None:
        send_text(self.ws, frame({"content": render_body(snapshot)}))
        self.layout = snapshot.layout
        # Rendering drops the text's trailing whitespace: it goes out again with the next delta,
        # or "word11 " + "word12" would show as "word11word12".
        self.sent = self.rendered = len(snapshot.tail_text.rstrip())
        self.rendered_at = now

    def send_outputs(self) -> None:
        html = live_outputs(self.turn.owner, self.turn.conversation_id)
        if html:
            # Aimed at the body, not the socket's element: a frame still being handled when
            # the final one has replaced that element must not lose its target.
            send_text(self.ws, frame({"content": html, "target": "body", "swap": "none"}))

    def send_final(self, snapshot: Snapshot | None) -> None:
        turn = services().store.get_turn(self.turn.id) or self.turn
        html = render_final(turn, snapshot)
        # No "target": htmx then swaps the socket's own element, never another one found by id.
        send_text(self.ws, frame({"content": html, "swap": "outerHTML"}))


def close(ws: Any, code: int = 1000, message: str | None = None) -> None:
    """Close the socket (unless it is closed already: the client hung up, or it closed itself
    over a too-large frame), and make sure the TCP connection ends with it."""
    if getattr(ws, "connected", True):
        # A close frame can still meet a connection that closed a moment ago (wsproto's
        # LocalProtocolError): the connection is over either way, so that is not an error.
        with suppress(ConnectionClosed, LocalProtocolError):
            ws.close(code, message)
    if getattr(ws, "mode", None) == "werkzeug":
        # Werkzeug's server would keep the connection open for HTTP keep-alive after the handler
        # returns, and the client would wait ~10 s for TCP to close. End it once the client has
        # answered our close frame.
        ws.thread.join(1.0)
        with suppress(OSError):
            ws.sock.shutdown(socket.SHUT_RDWR)


def refused(ws: Any) -> bool:
    """Close a socket opened by another site's page, or by a visitor who must sign in first
    (True: it was refused, and closed saying why)."""
    if not same_origin():
        close(ws, POLICY_VIOLATION, "origin not allowed")
        return True
    if signed_out():
        close(ws, POLICY_VIOLATION, "sign in first")
        return True
    return False


def stream_turn(ws: Any, turn_id: str) -> None:
    """The socket route: refuses foreign pages and turns that are not this session's, then streams."""
    if refused(ws):
        return
    turn = services().store.get_turn(turn_id)
    if turn is None or turn.owner != current_owner():
        close(ws, POLICY_VIOLATION, "unknown turn")
        return
    slots, client_slots, client = services().sockets, services().client_sockets, client_key()
    if not slots.acquire(turn.owner):
        close(ws, TRY_AGAIN_LATER, "too many open sockets")  # hx-ws retries later, with backoff
        return
    if not client_slots.acquire(client):  # the same, for every session of this address
        slots.release(turn.owner)
        close(ws, TRY_AGAIN_LATER, "too many open sockets from this address")
        return
    try:
        TurnStream(ws, turn, page_state()).run()
    except ConnectionClosed:
        # The page went away, or the socket closed itself (a client frame over the size limit:
        # 1009). The runner carries on and stores the reply; the TCP connection still has to end
        # here, or the client waits ~20 s for it (Werkzeug keeps it for keep-alive).
        pass
    finally:
        slots.release(turn.owner)
        client_slots.release(client)
    close(ws)
