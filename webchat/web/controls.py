"""Controls on a conversation's messages: undo the last turn, edit a sent message, like or dislike a
reply, clear the conversation. Each answers with the re-rendered part of the page it changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_htmx import make_response as htmx_response

from webchat.messages import ChatMessage
from webchat.store import Conversation, StoredMessage, TurnBusy
from webchat.store.files import FileRecord
from webchat.web import files as web_files
from webchat.web.pages import (
    composer_error,
    is_htmx,
    owned_conversation,
    owned_turn,
    page_of_messages,
    render_chat,
)
from webchat.web.services import services
from webchat.web.session import current_owner
from webchat.web.views import blocks

bp = Blueprint("controls", __name__)


def render_messages(
    conversation: Conversation, *, composer_text: str | None = None, composer_files: Sequence[FileRecord] = ()
) -> Any:
    """The conversation's messages (the inside of #messages); optionally refill the composer: its
    text, and in a chat that takes files, its attachments (``composer_files``, sent again)."""
    store = services().store
    running = store.running_turn(conversation.id)
    stored, earlier = page_of_messages(conversation.id)
    html = render_template(
        "partials/messages.html",
        conversation=conversation,
        blocks=blocks(stored),
        earlier=earlier,
        running=running,
        snapshot=services().hub.get(running.id) if running else None,
    )
    if composer_text is not None:
        html += render_template("partials/composer_text.html", text=composer_text)
        if services().page.multimodal:
            html += render_template("partials/composer_files.html", kept=composer_files, oob=True)
    return htmx_response(html, retarget="#messages", reswap="innerHTML")


def owned_message(message_id: int) -> tuple[Conversation, StoredMessage]:
    store = services().store
    conversation_id = store.conversation_of_message(message_id)
    if conversation_id is None:
        abort(404)
    conversation = owned_conversation(conversation_id)
    stored = store.get_message(conversation.id, message_id)
    if stored is None:
        abort(404)
    return conversation, stored


def stop_running(conversation: Conversation) -> None:
    running = services().store.running_turn(conversation.id)
    if running:
        services().runner.stop(running.id)


@bp.get("/c/<conversation_id>/messages")
def messages(conversation_id: str) -> Any:
    """The conversation's messages; with ``before``, the page of messages before that id."""
    conversation = owned_conversation(conversation_id)
    before = request.args.get("before", type=int)
    if before is None:
        return render_messages(conversation)
    stored, earlier = page_of_messages(conversation.id, before)
    return render_template(
        "partials/messages.html",
        conversation=conversation,
        blocks=blocks(stored),
        earlier=earlier,
        running=None,
        older=True,
    )


@bp.post("/turns/<turn_id>/undo")
def undo(turn_id: str) -> Any:
    """Remove the last turn and give its text and files back to the composer (as Gradio's
    MultimodalTextbox does): they replace what the composer held, and send again from there."""
    app = services()
    turn = owned_turn(turn_id)
    conversation = owned_conversation(turn.conversation_id)
    with app.turn_lock:
        last = app.store.last_turn(conversation.id)
        if last is None or last.id != turn.id:
            return composer_error("Only the last turn can be undone.", 409, conversation, "")
        app.runner.stop(turn.id)
        inputs = app.store.remove_turn(app.store.get_turn(turn.id) or turn, "undone")
    text = next((m.message.content for m in inputs if isinstance(m.message.content, str)), "")
    files = (
        web_files.sent_files(current_owner(), conversation.id, [m.message for m in inputs])
        if app.page.multimodal
        else []
    )
    if not is_htmx():
        return render_chat(conversation, text=text, kept=files)
    return render_messages(conversation, composer_text=text, composer_files=files)


@bp.get("/messages/<int:message_id>/edit")
def edit_form(message_id: int) -> Any:
    _, stored = owned_message(message_id)
    if stored.kind != "input" or not isinstance(stored.message.content, str):
        abort(404)
    return render_template("partials/edit_form.html", stored=stored)


@bp.post("/messages/<int:message_id>/edit")
def edit(message_id: int) -> Any:
    """Replace a sent message's text and run the conversation again from there."""
    app = services()
    conversation, stored = owned_message(message_id)
    text = request.form.get("text", "")
    if stored.kind != "input" or not isinstance(stored.message.content, str) or not stored.turn_id:
        abort(404)
    if not text.strip():
        return composer_error("The edited message is empty; type something or cancel.", 422, conversation, "")
    if len(text) > app.settings.max_message_chars:
        return composer_error(
            f"The edited message is longer than {app.settings.max_message_chars:,} characters.",
            413,
            conversation,
            "",
        )
    with app.turn_lock:
        stop_running(conversation)
        turn = app.store.get_turn(stored.turn_id)
        if turn is None:
            abort(404)
        old_inputs = app.store.turn_messages(turn.id, "input")
        extra = app.store.turn_inputs(turn.id)  # an edit keeps the additional inputs' values
        inputs = [
            ChatMessage(role="user", content=text) if m.id == stored.id else m.message for m in old_inputs
        ]
        try:
            app.begin_turn(conversation, inputs, extra, replacing=turn)
        except TurnBusy as busy:  # another worker started a reply here a moment ago; nothing changed
            return composer_error(str(busy), 409, conversation, "")
    if not is_htmx():
        return render_chat(conversation)
    return render_messages(conversation)


@bp.post("/messages/<int:message_id>/feedback")
def feedback(message_id: int) -> Any:
    """Like or dislike a reply (pressing the same button again takes it back)."""
    app = services()
    conversation, stored = owned_message(message_id)
    value = {"like": 1, "dislike": -1}.get(request.form.get("value", ""))
    if value is None or stored.kind != "reply":
        abort(400, description="Feedback is 'like' or 'dislike', on a reply.")
    new = None if stored.feedback == value else value
    app.store.set_feedback(conversation.id, stored.id, new)
    if new is not None and app.on_like is not None:
        history = app.store.messages(conversation.id)
        index = next(i for i, m in enumerate(history) if m.id == stored.id)
        app.on_like(index, stored.message.content, new == 1)
    updated = app.store.get_message(conversation.id, stored.id)
    return render_template("partials/feedback.html", message=updated)


@bp.post("/c/<conversation_id>/clear")
def clear(conversation_id: str) -> Any:
    app = services()
    conversation = owned_conversation(conversation_id)
    with app.turn_lock:
        stop_running(conversation)
        app.store.clear_conversation(conversation.id)
    if not is_htmx():
        return render_chat(conversation)
    return render_messages(conversation)
