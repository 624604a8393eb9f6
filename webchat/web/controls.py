"""Controls on a conversation's messages: undo the last turn, edit a sent message, like or dislike a
reply, start a new chat from a message, clear the conversation. Each answers with the re-rendered
part of the page it changed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from webchat.errors import Refused
from webchat.web import files as web_files
from webchat.web.htmx import htmx
from webchat.web.htmx import make_response as htmx_response
from webchat.web.owned import owned_conversation, owned_message, owned_turn
from webchat.web.services import services
from webchat.web.session import CSRF_FIELD, check_csrf_value, client_key, current_owner
from webchat.web.views import (
    NO_JS_WAIT_SECONDS,
    composer_error,
    page_of_messages,
    render_chat,
    render_messages,
    shown_context,
)

bp = Blueprint("controls", __name__)


@bp.get("/c/<conversation_id>/messages")
def messages(conversation_id: str) -> Any:
    """The conversation's messages; with ``before``, the page of messages before that id."""
    conversation = owned_conversation(conversation_id)
    before = request.args.get("before", type=int)
    if before is None:
        # A reply just ended (the page asks when messages wait for it): the next one starts now,
        # if the runner has not started it already.
        services().conversations.start_queued(conversation.id)
        return render_messages(conversation)
    stored, earlier = page_of_messages(conversation.id, before)
    return render_template(
        "partials/messages.html",
        conversation=conversation,
        **shown_context(conversation.id, stored),
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
    try:
        inputs = app.conversations.undo(turn)
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, "")
    text = next((m.message.content for m in inputs if isinstance(m.message.content, str)), "")
    files = (
        web_files.sent_files(current_owner(), conversation.id, [m.message for m in inputs])
        if app.page.multimodal
        else []
    )
    if not htmx:
        return render_chat(conversation, text=text, kept=files)
    return render_messages(conversation, composer_text=text, composer_files=files)


@bp.get("/messages/<message_ref>/edit")
def edit_form(message_ref: str) -> Any:
    conversation, stored = owned_message(message_ref)
    editable = stored.kind == "input" or services().page.look.edit_replies
    if not editable or not isinstance(stored.message.content, str):
        abort(404)
    if not htmx:  # without JavaScript: the whole conversation, with this message being edited
        return render_chat(conversation, editing=stored.id)
    return render_template("partials/edit_form.html", stored=stored)


@bp.post("/messages/<message_ref>/edit")
def edit(message_ref: str) -> Any:
    """Replace a sent message's text and run the conversation again from there."""
    conversation, stored = owned_message(message_ref)
    if stored.kind != "input" or not isinstance(stored.message.content, str) or not stored.turn_id:
        abort(404)
    try:
        text = request.form.get("text", "")
        turn = services().conversations.edit(conversation, stored, text, client_key())
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, "")
    if not htmx:  # without JavaScript: the page once the new reply has ended (post/redirect/get)
        services().hub.wait_final(turn.id, NO_JS_WAIT_SECONDS)
        return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)
    return render_messages(conversation)


@bp.route("/messages/<message_ref>/show", methods=["GET", "POST"])
def show_version(message_ref: str) -> Any:
    """Show this version of a message or reply (the ‹ 2/3 › control), with the conversation as it
    went on from it. Without JavaScript the control is a pair of links: the GET carries the
    session's token in its query, so a link on another site cannot change what is shown."""
    conversation, stored = owned_message(message_ref)
    if request.method == "GET":
        check_csrf_value(request.args.get(CSRF_FIELD, ""))
    try:
        services().conversations.select_version(conversation, stored)
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, "")
    if not htmx:
        target = url_for("web.conversation", conversation_id=conversation.id)
        anchor = f"#turn-{stored.turn_id}" if stored.kind == "reply" else f"#input-{stored.turn_id}"
        return redirect(target + anchor if stored.turn_id else target, 303)
    return render_messages(conversation, focus_version=stored.id)


@bp.post("/messages/<message_ref>/feedback")
def feedback(message_ref: str) -> Any:
    """Like or dislike a reply (pressing the same button again takes it back), or choose one of
    the program's further feedback options: kept as a dislike, its name given to the like
    handler (as Gradio gives it)."""
    app = services()
    conversation, stored = owned_message(message_ref)
    posted, look = request.form.get("value", ""), app.page.look
    offered = {"like": 1, "dislike": -1}
    offered = {k: v for k, v in offered.items() if k.capitalize() in look.feedback}
    option = posted if posted in look.feedback_others else None
    value = -1 if option else offered.get(posted)
    if value is None or stored.kind != "reply":
        choices = ", ".join([*offered, *look.feedback_others])
        abort(400, description=f"Feedback on a reply is one of: {choices}.")
    new = value if option or stored.feedback != value else None
    app.store.set_feedback(conversation.id, stored.id, new)
    if new is not None and app.on_like is not None:
        history = app.store.messages(conversation.id)
        index = next(i for i, m in enumerate(history) if m.id == stored.id)
        app.on_like(index, stored.message.content, option or new == 1)
    if not htmx:  # without JavaScript: back to the conversation (post/redirect/get)
        target = url_for("web.conversation", conversation_id=conversation.id)
        return redirect(f"{target}#turn-{stored.turn_id}" if stored.turn_id else target, 303)
    updated = app.store.get_message(conversation.id, stored.id)
    return render_template("partials/feedback.html", message=updated)


@bp.post("/messages/<message_ref>/fork")
def fork(message_ref: str) -> Any:
    """New chat from here: a new conversation holding this one up to the message; opens it."""
    conversation, stored = owned_message(message_ref)
    owner = current_owner()
    try:
        forked = services().conversations.fork(
            owner, conversation, stored, lambda messages: web_files.copy_posted_files(owner, messages)
        )
    except Refused as refused:  # a file of the conversation is gone, the quota is full...
        return composer_error(f"No new chat was made: {refused.message}", refused.status, conversation, "")
    target = url_for("web.conversation", conversation_id=forked.id)
    if htmx:
        return htmx_response("", redirect=target)
    return redirect(target, 303)


@bp.post("/c/<conversation_id>/clear")
def clear(conversation_id: str) -> Any:
    conversation = owned_conversation(conversation_id)
    services().conversations.clear(conversation)
    if not htmx:
        return render_chat(conversation)
    return render_messages(conversation)
