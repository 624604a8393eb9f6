"""Pages and the HTMX requests that change a conversation: send, stop, retry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, send_file, url_for
from flask_htmx import make_response as htmx_response

from webchat.errors import InputError
from webchat.files.limits import UploadError
from webchat.messages import ChatMessage
from webchat.store import Conversation, StoredMessage, Turn, TurnBusy
from webchat.store.files import FileRecord
from webchat.web import files as web_files
from webchat.web.services import history_dicts, message_for, services
from webchat.web.session import current_owner
from webchat.web.views import blocks

bp = Blueprint("web", __name__)

PAGE_MESSAGES = 100  # a 5000-message page took 200 ms and 560 KB at 400; earlier ones load on request
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
) -> tuple[str, int]:
    """The whole page; ``conversations``/``query`` for a search, ``deleted`` to offer an undo,
    ``text`` and ``kept`` (files to send again) to fill the composer with."""
    store, hub = services().store, services().hub
    stored, earlier = page_of_messages(conversation.id) if conversation else ([], None)
    running = store.running_turn(conversation.id) if conversation else None
    html = render_template(
        services().page.template,  # chat.html, or blocks.html for a gr.Blocks layout
        conversation=conversation,
        conversations=store.list_conversations(current_owner()) if conversations is None else conversations,
        query=query,
        deleted=deleted,
        blocks=blocks(stored),
        earlier=earlier,
        running=running,
        snapshot=hub.get(running.id) if running else None,
        error=error,
        text=text,
        kept=kept,
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
    page = services().page.gradio
    css = getattr(page, "css", "") or ""
    if not css:
        abort(404)
    return Response(css, mimetype="text/css", headers={"Cache-Control": "no-cache"})


def composer_error(message: str, status: int, conversation: Conversation | None, text: str) -> Any:
    """Say what is wrong next to the composer; the user's text stays where it is, and so do the
    files it kept (drawn again, without JavaScript, those still available)."""
    if is_htmx():
        html = render_template("partials/composer_status.html", error=message)
        return htmx_response(html, retarget="#composer-status", reswap="innerHTML"), status
    # (A body over the size limit has no form to read: no conversation is named then.)
    kept = web_files.still_kept(current_owner(), conversation.id, kept_files()) if conversation else []
    return render_chat(conversation, error=message, text=text, kept=kept, status=status)


def kept_files() -> list[str]:
    """The ids of the files undo gave back to the composer, posted to send again (not trusted)."""
    return request.form.getlist("kept_files")


@bp.post("/turns")
def create_turn() -> Any:
    app = services()
    owner = current_owner()
    if web_files.form_is_truncated():
        return composer_error("The message arrived incomplete (cut off). Send it again.", 400, None, "")
    # An example button submits its text as "example" (the composer's own text may be empty).
    text = request.form.get("text", "")
    if not text.strip() and request.form.get("example"):
        text = request.form["example"]
    # An option button (a ChatMessage's options, as in Gradio) sends its value as the message.
    if request.form.get("option"):
        text = request.form["option"]
    conversation_id = request.form.get("conversation_id") or None
    conversation = owned_conversation(conversation_id) if conversation_id else None
    posted = web_files.posted_files()
    kept_ids = kept_files()
    if not text.strip() and not posted and not kept_ids:
        return composer_error("Type a message first.", 422, conversation, text)
    if len(text) > app.settings.max_message_chars:
        return composer_error(
            f"This message is {len(text):,} characters long; the limit is "
            f"{app.settings.max_message_chars:,}. Shorten it and send again.",
            413,
            conversation,
            text,
        )
    try:
        extra = app.page.read_inputs(request.form, owner)  # Gradio's additional inputs, in order
    except InputError as error:
        return composer_error(str(error), 422, conversation, text)
    try:
        # Kept files are already stored (never trusted: each must be the owner's, in this
        # conversation); they come first and count toward the limit with the new ones.
        kept = web_files.kept_files(
            owner, conversation.id if conversation else None, kept_ids, adding=len(posted)
        )
        saved = web_files.save_posted(owner, posted)  # outside the lock: writing files takes a while
    except UploadError as error:
        return composer_error(error.message, error.status, conversation, text)
    with app.turn_lock:
        is_new = conversation is None
        try:
            # The database refuses a second running turn too (another worker may start one now).
            if conversation and app.store.running_turn(conversation.id):
                raise TurnBusy()
            conversation = conversation or app.store.create_conversation(owner)
            # Gradio's order: one message per file, then the text (a message may be files only).
            sent = web_files.file_messages(kept + saved)
            if text.strip():
                sent.append(ChatMessage(role="user", content=text))
            turn, inputs = app.begin_turn(conversation, sent, extra)
        except TurnBusy as busy:
            web_files.uploads().discard(saved)
            return composer_error(str(busy), 409, conversation, text)
        except BaseException:  # refused (too many replies at once...): the files were not sent
            web_files.uploads().discard(saved)
            raise
        conversation = app.store.get_conversation(owner, conversation.id) or conversation  # now titled
    web_files.uploads().link(saved, conversation.id)
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
        try:
            turn = app.store.restart_turn(old)
        except TurnBusy as busy:  # another worker started a reply here a moment ago
            return composer_error(str(busy), 409, conversation, "")
        inputs = app.store.turn_messages(turn.id, "input")
        history = history_dicts(app.store.history_before(conversation.id, inputs[0].id)) if inputs else []
        extra = app.store.turn_inputs(old.id)  # the additional inputs' values it had
        app.store.save_turn_inputs(turn.id, extra)
        app.runner.start(turn, message_for(inputs, app.page.multimodal), history, extra)
    if not is_htmx():
        app.hub.wait_final(turn.id, NO_JS_WAIT_SECONDS)
        return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)
    html = render_template("partials/reply.html", turn=turn, snapshot=None, live=True)
    return htmx_response(html, retarget=f"#turn-{old.id}", reswap="outerHTML")
