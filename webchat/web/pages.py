"""Pages and the HTMX requests that change a conversation: send, stop, retry."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_htmx import make_response as htmx_response

from webchat.messages import ChatMessage
from webchat.store import Conversation, Turn
from webchat.web.services import history_dicts, message_for, services
from webchat.web.session import current_owner
from webchat.web.views import blocks

bp = Blueprint("web", __name__)

PAGE_MESSAGES = 400
NO_JS_WAIT_SECONDS = 300.0


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def owned_conversation(conversation_id: str) -> Conversation:
    conversation = services().store.get_conversation(current_owner(), conversation_id)
    if conversation is None:
        abort(404)
    return conversation


def owned_turn(turn_id: str) -> Turn:
    turn = services().store.get_turn(turn_id)
    if turn is None or turn.owner != current_owner():
        abort(404)
    return turn


def render_chat(
    conversation: Conversation | None,
    *,
    error: str | None = None,
    text: str = "",
    status: int = 200,
    conversations: list[Conversation] | None = None,
    query: str = "",
    deleted: Conversation | None = None,
) -> tuple[str, int]:
    """The whole page; ``conversations``/``query`` for a search, ``deleted`` to offer an undo."""
    store, hub = services().store, services().hub
    stored = store.messages(conversation.id, limit=PAGE_MESSAGES) if conversation else []
    running = store.running_turn(conversation.id) if conversation else None
    html = render_template(
        "chat.html",
        conversation=conversation,
        conversations=store.list_conversations(current_owner()) if conversations is None else conversations,
        query=query,
        deleted=deleted,
        blocks=blocks(stored),
        running=running,
        snapshot=hub.get(running.id) if running else None,
        error=error,
        text=text,
    )
    return html, status


@bp.get("/")
def index() -> Any:
    return render_chat(services().store.latest_conversation(current_owner()))


@bp.get("/new")
def new_chat() -> Any:
    # After deleting the conversation it showed, the page offers to undo that.
    deleted_id = request.args.get("deleted", "")
    deleted = services().store.deleted_conversation(current_owner(), deleted_id) if deleted_id else None
    return render_chat(None, deleted=deleted)


@bp.get("/c/<conversation_id>")
def conversation(conversation_id: str) -> Any:
    return render_chat(owned_conversation(conversation_id))


def composer_error(message: str, status: int, conversation: Conversation | None, text: str) -> Any:
    """Say what is wrong next to the composer; the user's text stays where it is."""
    if is_htmx():
        html = render_template("partials/composer_status.html", error=message)
        return htmx_response(html, retarget="#composer-status", reswap="innerHTML"), status
    return render_chat(conversation, error=message, text=text, status=status)


@bp.post("/turns")
def create_turn() -> Any:
    app = services()
    owner = current_owner()
    # An example button submits its text as "example" (the composer's own text may be empty).
    text = request.form.get("text", "")
    if not text.strip() and request.form.get("example"):
        text = request.form["example"]
    conversation_id = request.form.get("conversation_id") or None
    conversation = owned_conversation(conversation_id) if conversation_id else None
    if not text.strip():
        return composer_error("Type a message first.", 422, conversation, text)
    if len(text) > app.settings.max_message_chars:
        return composer_error(
            f"This message is {len(text):,} characters long; the limit is "
            f"{app.settings.max_message_chars:,}. Shorten it and send again.",
            413,
            conversation,
            text,
        )
    with app.turn_lock:
        if conversation and app.store.running_turn(conversation.id):
            return composer_error(
                "A reply is still being written. Wait for it, or stop it, then send.", 409, conversation, text
            )
        is_new = conversation is None
        conversation = conversation or app.store.create_conversation(owner)
        turn, inputs = app.begin_turn(conversation, [ChatMessage(role="user", content=text)])
        conversation = app.store.get_conversation(owner, conversation.id) or conversation  # now titled
    if not is_htmx():
        app.hub.wait_final(turn.id, NO_JS_WAIT_SECONDS)
        return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)
    html = render_template(
        "partials/turn.html", inputs=inputs, turn=turn, snapshot=None, conversation=conversation, new=is_new
    )
    push = url_for("web.conversation", conversation_id=conversation.id) if is_new else None
    return htmx_response(html, push_url=push)


@bp.post("/turns/<turn_id>/stop")
def stop_turn(turn_id: str) -> Any:
    turn = owned_turn(turn_id)
    services().runner.stop(turn.id)
    if is_htmx():
        return Response(status=204)
    return redirect(url_for("web.conversation", conversation_id=turn.conversation_id), 303)


@bp.post("/turns/<turn_id>/retry")
def retry_turn(turn_id: str) -> Any:
    app = services()
    old = owned_turn(turn_id)
    conversation = owned_conversation(old.conversation_id)
    with app.turn_lock:
        last = app.store.last_turn(conversation.id)
        if last is None or last.id != old.id or old.status == "running":
            return composer_error(
                "Only the last reply can be retried, once it has ended.", 409, conversation, ""
            )
        turn = app.store.restart_turn(old)
        inputs = app.store.turn_messages(turn.id, "input")
        history = history_dicts(app.store.history_before(conversation.id, inputs[0].id)) if inputs else []
        app.runner.start(turn, message_for(inputs, app.interface.multimodal), history)
    if not is_htmx():
        app.hub.wait_final(turn.id, NO_JS_WAIT_SECONDS)
        return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)
    html = render_template("partials/reply.html", turn=turn, snapshot=None, live=True)
    return htmx_response(html, retarget=f"#turn-{old.id}", reswap="outerHTML")
