"""The websocket that streams a page event's values (a Blocks handler that yields, e.g. progress
into a Textbox).

The POST of such an event answers at once with a socket element for its run
(``partials/gr/outcome.html``, appended to ``#gr-streams``); the run goes on in the background
(:class:`webchat.gradio.runtime.EventRuns`). Frames, in the format of a reply's socket
(webchat.web.stream):

- ``{"content": html, "target": "body", "swap": "none"}``: each value, as out-of-band swaps of
  the outputs it changed; then the event's end, answered as the POST of an event that does not
  yield would have been (:func:`webchat.web.events.answer`: the Chatbot's messages stored first);
- ``{"content": "<span hidden></span>", "swap": "outerHTML"}``: replaces the socket's element,
  so htmx closes the socket.
"""

from __future__ import annotations

from typing import Any

from flask import request
from simple_websocket import ConnectionClosed

from webchat.web.events import answer, conversation_of
from webchat.web.services import services
from webchat.web.session import current_owner
from webchat.web.stream import TRY_AGAIN_LATER, close, frame, refused, send_text

DONE = frame({"content": "<span hidden></span>", "swap": "outerHTML"})


def follow_event(ws: Any, run_id: str) -> None:
    """The socket route: refuses foreign pages and signed-out visitors, then streams the run
    (a run that is not this session's, or is over, just ends the socket)."""
    if refused(ws):
        return
    owner, program = current_owner(), services().page.gradio
    if not services().sockets.acquire(owner):
        close(ws, TRY_AGAIN_LATER, "too many open sockets")
        return
    conversation = conversation_of(request.args.get("c", ""))
    try:
        for outcome in program.follow(run_id, owner) if program is not None else ():
            html = answer(owner, conversation, outcome)
            send_text(ws, frame({"content": html, "target": "body", "swap": "none"}))
        send_text(ws, DONE)
    except ConnectionClosed:
        pass  # the page went away: the run ends by itself, and nothing it stores is lost
    finally:
        services().sockets.release(owner)
    close(ws)
