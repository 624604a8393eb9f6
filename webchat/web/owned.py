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
