"""The sidebar's verbs: search, rename, delete (with undo), export and import conversations."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from webchat.conversation import history_dicts
from webchat.errors import Refused
from webchat.messages import ChatMessage, MessageError, messages_from_list, parse_json
from webchat.store.tree_json import Node, parse_tree
from webchat.web.errors import respond
from webchat.web.files import copy_posted_files, shared_tree
from webchat.web.htmx import htmx
from webchat.web.htmx import make_response as htmx_response
from webchat.web.owned import owned_conversation
from webchat.web.services import services
from webchat.web.session import current_owner
from webchat.web.views import render_chat

bp = Blueprint("conversations", __name__)

MAX_IMPORT_BYTES = 5 * 1024 * 1024


@bp.get("/search")
def search() -> Any:
    query = request.args.get("q", "")[:200]
    found = services().store.list_conversations(current_owner(), search=query)
    if not htmx:
        return render_chat(None, conversations=found, query=query)
    return render_template(
        "partials/conversation_list.html", conversations=found, query=query, conversation=None
    )


@bp.post("/c/<conversation_id>/rename")
def rename(conversation_id: str) -> Any:
    conversation = owned_conversation(conversation_id)
    title = " ".join(request.form.get("title", "").split())
    if not title:
        return _sidebar_error("A conversation needs a name.", conversation)
    services().store.rename_conversation(current_owner(), conversation.id, title)
    renamed = owned_conversation(conversation_id)
    if not htmx:
        return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)
    current = _current()
    item = render_template("partials/conversation_item.html", c=renamed, conversation=current)
    if current is None or current.id != renamed.id:
        return item
    return item + render_template("partials/page_title.html", conversation=renamed)  # the tab's title too


@bp.post("/c/<conversation_id>/delete")
def delete(conversation_id: str) -> Any:
    conversation = owned_conversation(conversation_id)
    services().conversations.delete(current_owner(), conversation)
    viewing = _current_id() == conversation.id
    if not htmx:
        return render_chat(None, deleted=conversation)
    if viewing:  # the page shows what was deleted: go to a new chat, offering the undo there
        return htmx_response("", redirect=url_for("web.new_chat", deleted=conversation.id))
    return render_template("partials/conversation_deleted.html", c=conversation)


@bp.post("/c/<conversation_id>/restore")
def restore(conversation_id: str) -> Any:
    store = services().store
    if not store.restore_conversation(current_owner(), conversation_id):
        abort(404, description="That conversation is gone for good: it cannot be restored.")
    conversation = owned_conversation(conversation_id)
    if not htmx:
        return redirect(url_for("web.conversation", conversation_id=conversation.id), 303)
    return render_template("partials/conversation_item.html", c=conversation, conversation=_current())


@bp.get("/c/<conversation_id>/export")
def export(conversation_id: str) -> Response:
    """The conversation as the ``history`` list a Gradio chat function receives (the branch
    shown); with ``?tree=1``, every version too: ``{"title", "messages", "tree"}``
    (webchat.store.tree_json), which import takes back whole."""
    conversation = owned_conversation(conversation_id)
    history = services().uploads.shareable(history_dicts(services().store.messages(conversation.id)))
    whole: Any = history
    if request.args.get("tree") == "1":
        whole = {"title": conversation.title, "messages": history, "tree": shared_tree(conversation.id)}
    body = json.dumps(whole, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="conversation-{conversation.id}.json"'},
    )


@bp.post("/import")
def import_conversation() -> Any:
    """Create a conversation from exported JSON; anything invalid is refused whole, with the reason."""
    upload = request.files.get("file")
    raw = upload.read(MAX_IMPORT_BYTES + 1) if upload else request.form.get("json", "").encode()
    owner = current_owner()
    try:
        posted, nodes, title = parse_import(raw)
        services().conversations.check_messages(posted)  # before any file is copied for it
        imported, copies = copy_posted_files(owner, posted)
    except MessageError as error:
        return _import_error(str(error))
    except Refused as error:
        return _import_error(error.message)
    if nodes is None:
        conversation = services().conversations.import_messages(owner, imported, copies)
    else:  # an export with every version: the same tree, each message with its copied files
        nodes = [dataclasses.replace(n, message=m) for n, m in zip(nodes, imported, strict=True)]
        conversation = services().conversations.import_tree(owner, nodes, copies, title)
    target = url_for("web.conversation", conversation_id=conversation.id)
    if htmx:
        return htmx_response("", redirect=target)
    return redirect(target, 303)


def parse_import(raw: bytes) -> tuple[list[ChatMessage], list[Node] | None, str]:
    """The messages of an imported file; for an export with every version (``"tree"``), also
    its nodes (whose messages these are, in order) and its title."""
    if not raw.strip():
        raise MessageError("Choose a JSON file exported from webchat (or any messages-format list).")
    if len(raw) > MAX_IMPORT_BYTES:
        raise MessageError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    data = parse_json(raw, "The file")
    if isinstance(data, dict) and "tree" in data:
        nodes = parse_tree(data["tree"])
        title = data.get("title")
        return [n.message for n in nodes], nodes, title if isinstance(title, str) else ""
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    messages = messages_from_list(data)
    if not messages:
        raise MessageError("The file holds no messages.")
    return messages, None, ""


def _import_error(message: str) -> Any:
    """The reason, next to the import form: in place with htmx; without JavaScript on the new
    chat page it redirects to (a reload then shows the page again instead of posting again)."""
    text = f"Nothing was imported: {message}"
    if htmx:
        response = htmx_response(render_template("partials/import_status.html", import_error=text))
        response.status_code = 422
        return response
    return redirect(url_for("web.new_chat", import_error=text), 303)


def _sidebar_error(message: str, conversation: Any) -> Any:
    return respond(message, 422, page=lambda: render_chat(conversation, error=message, status=422))


def _current_id() -> str | None:
    """The conversation the page that sent this request is showing (htmx sends its URL)."""
    path = urlsplit(request.headers.get("HX-Current-URL", "")).path
    parts = path.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == "c" else None


def _current() -> Any:
    current = _current_id()
    return services().store.get_conversation(current_owner(), current) if current else None
