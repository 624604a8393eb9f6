"""The caller's conversations as JSON: list, create (from messages-format JSON), read, delete."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import ValidationError

from webchat.conversation import history_dicts
from webchat.errors import Refused
from webchat.messages import ChatMessage, MessageError, messages_from_list
from webchat.store import Conversation, StoredMessage
from webchat.web.api import schemas
from webchat.web.api.access import caller, json_body
from webchat.web.api.errors import ApiError
from webchat.web.files import ImportedFileError, copy_posted_files, shared_tree
from webchat.web.services import services

bp = Blueprint("api_conversations", __name__)

LIST_LIMIT = 200


def conversation_summary(conversation: Conversation) -> schemas.ConversationSummary:
    return schemas.ConversationSummary(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


def conversation_detail(
    conversation: Conversation, stored: list[StoredMessage], *, tree: bool = False
) -> dict[str, Any]:
    """The conversation with its messages (the branch shown); with ``tree``, every version too."""
    shared = services().uploads.shareable(history_dicts(stored))  # no server paths leave
    nodes = shared_tree(conversation.id) if tree else None
    detail = schemas.Conversation(**dict(conversation_summary(conversation)), messages=shared, tree=nodes)
    body = detail.model_dump(mode="json")
    if nodes is None:
        del body["tree"]
    return body


def owned(conversation_id: str) -> Conversation:
    conversation = services().store.get_conversation(caller().owner, conversation_id)
    if conversation is None:
        raise ApiError(
            404, f"There is no conversation {conversation_id!r} here.", code="conversation_not_found"
        )
    return conversation


@bp.get("/api/conversations")
def list_conversations() -> Any:
    unknown = sorted(set(request.args) - {"limit"})
    if unknown:
        raise ApiError(
            400, f"Unknown query parameter {unknown[0]!r}: only 'limit' is known.", param=unknown[0]
        )
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= LIST_LIMIT:
        raise ApiError(400, f"'limit' must be a whole number from 1 to {LIST_LIMIT}.", param="limit")
    found = services().store.list_conversations(caller().owner, limit=int(raw))
    return schemas.ConversationList(data=[conversation_summary(c) for c in found]).model_dump(mode="json")


@bp.post("/api/conversations")
def create_conversation() -> Any:
    """A conversation from messages-format JSON. A file is FileData whose ``url`` names one of the
    caller's files (uploaded with POST /api/files, or from a conversation of theirs); the new
    conversation gets its own copy. The ``path`` a caller sends is never used."""
    title, posted = _posted_conversation(json_body())
    try:
        messages, copies = copy_posted_files(caller().owner, posted)
    except ImportedFileError as error:
        raise ApiError(400, error.message, param=f"messages[{error.index}].content") from None
    app = services()
    conversation = app.conversations.import_messages(caller().owner, messages, copies, title)
    response = jsonify(conversation_detail(conversation, app.store.messages(conversation.id)))
    response.status_code = 201
    response.headers["Location"] = url_for(
        "api_conversations.get_conversation", conversation_id=conversation.id
    )
    return response


def _posted_conversation(body: Any) -> tuple[str, list[ChatMessage]]:
    """The title and messages of a posted conversation; ApiError names the field at fault.

    The schema (``schemas.NewConversation``) checks the shape; ``messages_from_list`` makes
    the engine's messages of it, and the conversation rules (length, files taken) come last.
    """
    try:
        posted = schemas.NewConversation.model_validate(body)
    except ValidationError as error:
        message, param = schemas.refusal(error)
        raise ApiError(400, message, param=param) from None
    try:
        messages = messages_from_list([m.model_dump(exclude_none=True) for m in posted.messages])
    except MessageError as error:
        raise ApiError(400, f"'messages' is not in messages format: {error}.", param="messages") from None
    try:
        services().conversations.check_messages(messages)
    except Refused as error:
        raise ApiError(error.status, error.message, param=error.where) from None
    return posted.title, messages


@bp.get("/api/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> Any:
    """The conversation; ``?tree=1`` adds every version (the form an export with all versions has)."""
    tree = request.args.get("tree", "0")
    if tree not in ("0", "1", "true", "false"):
        raise ApiError(400, "'tree' is 1 (every version too) or 0 (the branch shown).", param="tree")
    conversation = owned(conversation_id)
    return conversation_detail(
        conversation, services().store.messages(conversation.id), tree=tree in ("1", "true")
    )


@bp.get("/api/conversations/<conversation_id>/turns")
def turn_records(conversation_id: str) -> Any:
    """The record of each reply of a built-in model, as JSON Lines, oldest first: the turn (id,
    status, times), the request as sent (endpoint, model, parameters, messages with files as
    FileData references), usage, timings, finish reason and error (webchat.turn_record)."""
    conversation = owned(conversation_id)
    records = services().store.conversation_turn_records(conversation.id)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return Response(body, mimetype="application/x-ndjson")


@bp.delete("/api/conversations/<conversation_id>")
def delete_conversation(conversation_id: str) -> Any:
    conversation = owned(conversation_id)
    services().conversations.delete(caller().owner, conversation)
    return schemas.ConversationDeleted(id=conversation.id).model_dump(mode="json")
