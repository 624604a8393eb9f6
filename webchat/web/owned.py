"""The caller's own conversations, turns and messages, looked up from a URL's id: anybody else's
gets the same 404 as an id that does not exist."""

from __future__ import annotations

from flask import abort

from webchat.store import Conversation, StoredMessage, Turn
from webchat.web.services import services
from webchat.web.session import current_owner


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


def owned_message(ref: str) -> tuple[Conversation, StoredMessage]:
    """The message with this URL id, and its conversation, if the caller owns them (else 404)."""
    stored = services().store.message_by_ref(ref)
    if stored is None:
        abort(404)
    return owned_conversation(stored.conversation_id), stored
