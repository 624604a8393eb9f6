"""The route of a program's page events (a Gradio Blocks app's clicks, changes, selects, loads).

The page's htmx posts the layout's form to ``/events/<n>`` (``load`` when the page loads,
``pending`` when a streamed reply ends; while it streams, its socket sends :func:`live_outputs`);
the program runs the handlers (:meth:`webchat.web.page.Program.run_event`) and this route
answers out-of-band swaps of exactly what changed: each changed component drawn again by its
partial, the messages when a handler set the Chatbot's value (stored first: the page shows what
the store holds), and an error next to the component it concerns. A failed event changes
nothing, so nothing the user had is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, render_template, request
from werkzeug.datastructures import MultiDict

from webchat.conversation import history_dicts, in_history
from webchat.errors import Error, Refused
from webchat.store import Conversation
from webchat.web import files as web_files
from webchat.web.htmx import make_response as htmx_response
from webchat.web.page import EventOutcome
from webchat.web.services import services
from webchat.web.session import current_owner
from webchat.web.views import messages_html, preview_html

bp = Blueprint("events", __name__)


# The events a page sends by name; the others are numbered (their place in the program).
NAMED = frozenset(
    {"load", "pending", "unload", "undo", "retry", "edit", "clear", "option_select", "example_select"}
)


@bp.post("/events/<name>")
def run(name: str) -> Any:
    program = services().page.gradio
    if program is None or not (name in NAMED or name.isdigit()):
        abort(404, description="This page has no such event: reload it.")
    owner = current_owner()
    conversation = conversation_of(request.form.get("conversation_id", ""))
    stored = services().store.messages(conversation.id) if conversation else []
    history = history_dicts(stored)
    try:
        form = _with_uploads(owner)
    except Refused as refused:
        return htmx_response(answer(owner, conversation, EventOutcome(error=refused.message)), reswap="none")
    if "message" in form:  # a message of the conversation, by its ref: its place in ``history``
        kept = [m for m in stored if in_history(m)]
        form["message_index"] = next((str(i) for i, m in enumerate(kept) if m.ref == form["message"]), "")
    outcome = program.run_event(name if not name.isdigit() else int(name), form, owner, history)
    return htmx_response(answer(owner, conversation, outcome), reswap="none")


def answer(owner: str, conversation: Conversation | None, outcome: EventOutcome) -> str:
    """An event's outcome as out-of-band swaps. Its end: the files its outputs show and the
    Chatbot's new messages stored first (a failure to store is said instead); one of its values
    (``partial``), or one that runs on (``stream``): only the outputs, with their files."""
    if outcome.error is None:
        try:
            conversation = _store(owner, conversation, outcome)
        except Error as error:  # over a limit, a reply still running, a file that cannot be shown
            outcome = EventOutcome(error=error.message)
    messages = None
    if outcome.chat is not None and outcome.partial:
        messages = preview_html(outcome.chat)  # as it is so far, not stored yet
    elif outcome.chat is not None and conversation is not None:
        messages = messages_html(conversation)
    return render_template(
        "partials/gr/outcome.html",
        outcome=outcome,
        conversation=None if outcome.partial else conversation,
        messages=messages,
        live=outcome.partial,
    )


def live_outputs(owner: str, conversation_id: str) -> str:
    """What the chat event streaming in ``owner``'s conversation changed besides the Chatbot since
    last asked, as out-of-band swaps ("" when nothing): the reply's socket sends it as a frame
    (webchat.web.stream), so a handler's other outputs change while its reply streams."""
    program = services().page.gradio
    outcome = program.run_event("live", {}, owner, []) if program is not None else EventOutcome()
    if not outcome.shown:
        return ""
    outcome.partial = True
    return answer(owner, services().store.get_conversation(owner, conversation_id), outcome)


def conversation_of(conversation_id: str) -> Conversation | None:
    """The current owner's conversation of this id (None: none, or not theirs)."""
    if not conversation_id:
        return None
    return services().store.get_conversation(current_owner(), conversation_id)


def _with_uploads(owner: str) -> Mapping[str, Any]:
    """The posted form, with each posted file (an Image or File input) stored for the owner and
    given to the program as its server path."""
    form: MultiDict[str, Any] = MultiDict(request.form)
    for field, posted in request.files.items(multi=False):
        if not posted or not posted.filename:
            continue
        [record] = web_files.uploads().save(owner, [posted])
        form[field] = str(web_files.uploads().path_of(record))
    return form


def _store(owner: str, conversation: Conversation | None, outcome: EventOutcome) -> Conversation | None:
    """Keep the files the outputs show, and the Chatbot's new messages."""
    uploads = web_files.uploads()
    for shown in outcome.shown:
        value = getattr(shown, "value", None)
        if getattr(shown, "media", None) and isinstance(value, Mapping) and value.get("path"):
            record = uploads.adopt(owner, conversation.id if conversation else None, value)
            shown.value = uploads.filedata(record, web_files.file_url(record))
    if outcome.chat is None or outcome.partial:  # a value on the way is drawn, not stored
        return conversation
    if conversation is None and not outcome.chat:
        return None
    keep = uploads.reply_files(owner, conversation.id if conversation else None, web_files.file_url)
    return services().conversations.rewrite(owner, conversation, keep(outcome.chat))
