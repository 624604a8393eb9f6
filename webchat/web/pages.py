"""Pages, and the requests that start or end a reply: send, stop, retry."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from webchat.conversation import Sent
from webchat.errors import Refused
from webchat.files.limits import human_size
from webchat.store import Conversation, Turn
from webchat.store.queued import Queued
from webchat.web import files as web_files
from webchat.web import model_panel
from webchat.web.api.errors import http_error_response
from webchat.web.htmx import htmx
from webchat.web.htmx import make_response as htmx_response
from webchat.web.owned import owned_conversation, owned_turn
from webchat.web.services import services
from webchat.web.session import client_key, current_owner, is_api_path
from webchat.web.views import NO_JS_WAIT_SECONDS, composer_error, render_chat, render_messages

bp = Blueprint("web", __name__)


@bp.get("/")
def index() -> Any:
    return render_chat(services().store.latest_conversation(current_owner()))


@bp.get("/new")
def new_chat() -> Any:
    # After deleting the conversation it showed, the page offers to undo that.
    deleted_id = request.args.get("deleted", "")
    deleted = services().store.deleted_conversation(current_owner(), deleted_id) if deleted_id else None
    # A refused import without JavaScript comes here (post/redirect/get), its reason in the URL.
    import_error = request.args.get("import_error", "")[:500]
    return render_chat(None, deleted=deleted, import_error=import_error)


@bp.get("/c/<conversation_id>")
def conversation(conversation_id: str) -> Any:
    found = owned_conversation(conversation_id)
    services().conversations.start_queued(found.id)  # a message left waiting by a lost runner
    return render_chat(found)


@bp.get("/avatars/<role>")
def avatar(role: str) -> Any:
    """The avatar image the program set for ``user`` or ``assistant``."""
    images = dict(zip(("user", "assistant"), services().page.avatar_images, strict=True))
    path = images.get(role)
    if not path:
        abort(404)
    return send_file(path, max_age=3600)


@bp.get("/interface.css")
def interface_css() -> Any:
    """A Gradio program's own ``css=``, as a stylesheet (the CSP allows no inline styles)."""
    program = services().page.gradio
    css = getattr(program, "css", "") or ""
    if not css:
        abort(404)
    return Response(css, mimetype="text/css", headers={"Cache-Control": "no-cache"})


def composer_text() -> str:
    """The message: the composer's text, or the example or option button that was pressed (an
    example's own text counts only when the composer is empty; an option, Gradio's, always)."""
    text = request.form.get("text", "")
    if not text.strip() and request.form.get("example"):
        text = request.form["example"]
    return request.form.get("option") or text


@bp.post("/turns")
def create_turn() -> Any:
    app, owner = services(), current_owner()
    conversation_id = request.form.get("conversation_id")
    conversation = owned_conversation(conversation_id) if conversation_id else None
    text = composer_text()
    try:
        web_files.check_complete()
        posted, kept = web_files.posted_files(), web_files.kept_file_ids()
        app.conversations.check_text(text, has_files=bool(posted or kept))
        extra = app.page.read_inputs(request.form, owner)  # Gradio's additional inputs, in order
        settings = model_panel.posted(request.form)  # the built-in models' picker and panel
        extra = extra or model_panel.compared(request.form)  # or several models side by side
        files, saved = web_files.composer_files(owner, conversation, posted, kept)
        example = web_files.attached_files(owner, conversation, app.page.attached(request.form))
        files, saved = files + example, saved + example
        sent = app.conversations.send(
            owner,
            conversation,
            web_files.file_messages(files),
            text,
            extra,
            saved=saved,
            client=client_key(),
            wait=True,  # sent while a reply is being written: it waits for it
            settings=settings,
        )
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, text)
    if isinstance(sent, Queued):
        return _queued(sent)
    return _sent(sent)


def _queued(queued: Queued) -> Any:
    """The page's queue drawn again, with the new waiting message; without JavaScript, the
    conversation."""
    if not htmx:
        return redirect(url_for("web.conversation", conversation_id=queued.conversation_id), 303)
    waiting = services().conversations.queued.waiting(queued.conversation_id)
    html = render_template("partials/queue.html", queued=waiting, oob=True)
    return htmx_response(html, reswap="none")


@bp.post("/c/<conversation_id>/queued/<ref>/remove")
def remove_queued(conversation_id: str, ref: str) -> Any:
    """Take a waiting message out before it is sent."""
    conversation = owned_conversation(conversation_id)
    try:
        services().conversations.remove_queued(conversation, ref)
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, "")
    if not htmx:
        return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)
    return htmx_response("")


def _sent(sent: Sent) -> Any:
    """The user's message and the reply's placeholder; without JavaScript, the page once the
    reply has ended (post/redirect/get)."""
    if not htmx:
        return _when_done(sent.turn, sent.conversation)
    html = render_template(
        "partials/turn.html",
        inputs=sent.inputs,
        turn=sent.turn,
        snapshot=None,
        conversation=sent.conversation,
        new=sent.is_new,
    )
    push = url_for("web.conversation", conversation_id=sent.conversation.id) if sent.is_new else None
    return htmx_response(html, push_url=push)


def _when_done(turn: Turn, conversation: Conversation | str) -> Response:
    services().hub.wait_final(turn.id, NO_JS_WAIT_SECONDS)
    conversation_id = conversation if isinstance(conversation, str) else conversation.id
    return redirect(url_for("web.conversation", conversation_id=conversation_id), 303)


@bp.post("/turns/<turn_id>/stop")
def stop_turn(turn_id: str) -> Any:
    """Stop the reply (a message waiting for it then starts)."""
    turn = owned_turn(turn_id)
    services().conversations.stop(turn)
    if htmx:
        return Response(status=204)
    return redirect(url_for("web.conversation", conversation_id=turn.conversation_id), 303)


@bp.post("/c/<conversation_id>/stop-all")
def stop_all(conversation_id: str) -> Any:
    """Remove the messages waiting for the reply, then stop it: nothing more is sent."""
    conversation = owned_conversation(conversation_id)
    services().conversations.stop_all(conversation)
    if htmx:
        return htmx_response('<div id="queue" class="queue" hx-swap-oob="outerHTML"></div>')
    return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)


@bp.post("/turns/<turn_id>/retry")
def retry_turn(turn_id: str) -> Any:
    old = owned_turn(turn_id)
    conversation = owned_conversation(old.conversation_id)
    try:
        turn = services().conversations.retry(old, client_key())
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, "")
    if not htmx:
        return _when_done(turn, conversation)
    # The whole conversation: a retry of an earlier reply moves what followed it to the old
    # version's branch, and the reply's ‹ 2/2 › control is new.
    return render_messages(conversation)


@bp.app_template_global()
def too_large_message() -> str:
    limits = services().uploads.limits
    files = f"{limits.max_files} files" if limits.max_files != 1 else "1 file"
    return (
        f"This message is too large to send. Each file may be up to {human_size(limits.max_file_size)}, "
        f"with at most {files} in a message. Remove some files and send again."
    )


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> Any:
    """A body over the size limit has no form to read: the answer names no conversation."""
    if is_api_path():
        return http_error_response(error)
    return composer_error(too_large_message(), 413, None, "")
