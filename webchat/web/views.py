"""The chat page and its parts, rendered from what the store holds: the whole page, the
conversation's messages (the inside of ``#messages``), and an error next to the composer. A
route that changes a conversation answers with one of these: the same partials the page draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import render_template, request

from webchat.conversation import runs
from webchat.messages import ChatMessage
from webchat.store import Conversation, StoredMessage
from webchat.store.files import FileRecord
from webchat.web import files as web_files
from webchat.web import model_panel
from webchat.web.errors import respond
from webchat.web.grouping import groups
from webchat.web.htmx import make_response as htmx_response
from webchat.web.services import services
from webchat.web.session import current_owner

NO_JS_WAIT_SECONDS = 300.0  # without JavaScript a post answers once its reply has ended
PAGE_MESSAGES = 100  # a 5000-message page took 200 ms and 560 KB at 400; earlier ones load on request


def page_of_messages(
    conversation_id: str, before: int | None = None
) -> tuple[list[StoredMessage], int | None]:
    """The newest PAGE_MESSAGES messages (before ``before``), and the id to load earlier ones from,
    if there are any: a long conversation is not sent whole with every page."""
    stored = services().store.messages(conversation_id, limit=PAGE_MESSAGES + 1, before=before)
    if len(stored) > PAGE_MESSAGES:
        stored = stored[1:]
        return stored, stored[0].id
    return stored, None


def shown_context(conversation_id: str, stored: list[StoredMessage]) -> dict[str, Any]:
    """What the messages partial needs to draw these stored messages: their groups, the record
    of each reply of a built-in model, and where each group stands among its versions (one
    query each, for the page)."""
    store = services().store
    shown = groups(stored)
    return {
        "groups": shown,
        "records": store.turn_records(g.turn_id for g in shown if g.kind == "reply" and g.turn_id),
        "versions": store.versions(conversation_id, [g.messages[0] for g in shown]),
    }


def _messages_context(conversation: Conversation) -> dict[str, Any]:
    store, hub = services().store, services().hub
    # The running turn first: a reply that ends before the messages are read is then among them
    # (and its placeholder gets the final frame at once); the other order could show neither.
    running = store.running_turn(conversation.id)
    stored, earlier = page_of_messages(conversation.id)
    if running is not None and any(m.turn_id == running.id and m.kind == "reply" for m in stored):
        running = None  # it ended in between: its reply is among the messages, drawn once
    return {
        "code": any(_may_hold_code(m) for m in stored),
        **shown_context(conversation.id, stored),
        "earlier": earlier,
        "running": running,
        "snapshot": hub.get(running.id) if running else None,
        "queued": services().conversations.queued.waiting(conversation.id),
    }


def _may_hold_code(stored: StoredMessage) -> bool:
    """Could this message draw a code block (a fence, or lines indented as code)? Then the page
    links the code stylesheet at once; otherwise app.js links it when code first appears."""
    text = stored.message.content
    return isinstance(text, str) and ("```" in text or "~~~" in text or "\n    " in text or "\t" in text)


def render_chat(
    conversation: Conversation | None,
    *,
    error: str | None = None,
    text: str = "",
    kept: Sequence[FileRecord] = (),
    status: int = 200,
    conversations: list[Conversation] | None = None,
    query: str = "",
    deleted: Conversation | None = None,
    editing: int | None = None,
    import_error: str = "",
) -> tuple[str, int]:
    """The whole page; ``conversations``/``query`` for a search, ``deleted`` to offer an undo,
    ``text`` and ``kept`` (files to send again) to fill the composer with, ``editing``: the id of
    a message shown as its edit form (without JavaScript), ``import_error``: why an import was
    refused, shown at the import form."""
    app = services()
    shown = _messages_context(conversation) if conversation else {"groups": [], "earlier": None}
    if conversations is None:
        conversations = app.store.list_conversations(current_owner())
    html = render_template(
        app.page.template,  # chat.html, or blocks.html for a gr.Blocks layout
        conversation=conversation,
        conversations=conversations,
        query=query,
        deleted=deleted,
        error=error,
        text=text,
        kept=kept,
        editing=editing,
        import_error=import_error,
        panel=model_panel.panel(conversation.id if conversation else None, current_owner()),
        **{"running": None, "snapshot": None, "code": False, **shown},
    )
    return html, status


def messages_html(conversation: Conversation, focus_version: int | None = None) -> str:
    """The inside of #messages: the conversation's newest messages, and its running reply;
    ``focus_version``: the message whose ‹ 2/3 › control takes the focus (it was just used)."""
    return render_template(
        "partials/messages.html",
        conversation=conversation,
        focus_version=focus_version,
        **_messages_context(conversation),
    )


def preview_html(messages: Sequence[ChatMessage]) -> str:
    """Messages a program's event is still producing, drawn as the conversation would draw them
    but not stored (so without controls); the event's end stores them and draws them again."""
    shown = [
        StoredMessage(0, "", message, None, kind, "complete", None, None, 0.0)
        for kind, run in runs(messages)
        for message in run
    ]
    return render_template("partials/messages.html", conversation=None, groups=groups(shown), older=True)


def render_messages(
    conversation: Conversation,
    *,
    composer_text: str | None = None,
    composer_files: Sequence[FileRecord] = (),
    focus_version: int | None = None,
) -> Any:
    """The conversation's messages (the inside of #messages) and the messages waiting (#queue);
    optionally refill the composer: its text, and in a chat that takes files, its attachments
    (``composer_files``, sent again); ``focus_version``: as for ``messages_html``."""
    html = messages_html(conversation, focus_version)
    queued = services().conversations.queued.waiting(conversation.id)
    html += render_template("partials/queue.html", queued=queued, oob=True)
    if composer_text is not None:
        html += render_template("partials/composer_text.html", text=composer_text)
        if services().page.multimodal:
            html += render_template("partials/composer_files.html", kept=composer_files, oob=True)
    return htmx_response(html, retarget="#messages", reswap="innerHTML")


def composer_error(message: str, status: int, conversation: Conversation | None, text: str) -> Any:
    """Say what is wrong next to the composer; the user's text stays where it is, and so do the
    files it kept (drawn again, without JavaScript, those still available)."""

    def page() -> tuple[str, int]:
        # (A body over the size limit has no form to read: no conversation is named then.)
        kept = []
        if conversation is not None:
            ids = request.form.getlist("kept_files")
            kept = web_files.still_kept(current_owner(), conversation.id, ids)
        return render_chat(conversation, error=message, text=text, kept=kept, status=status)

    return respond(message, status, page=page)
