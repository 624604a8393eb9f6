"""The model picker, the settings panel and presets (the built-in models): choose a conversation's
model and settings, save them as a preset, start a new chat from a preset, delete one's own.
Each works by a form post without JavaScript (then back to the conversation); with htmx the
panel is drawn again."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from webchat.errors import InputError, Refused
from webchat.web.htmx import htmx
from webchat.web.htmx import make_response as htmx_response
from webchat.web.model_panel import models, panel, posted, presets_for
from webchat.web.owned import owned_conversation, owned_turn
from webchat.web.services import services
from webchat.web.session import current_owner
from webchat.web.views import composer_error, render_messages

bp = Blueprint("models", __name__)


@bp.post("/model-settings")
def choose() -> Any:
    """The conversation's model and settings, as the picker and the panel post them (with the
    composer's fields: ``conversation_id``; none yet on a new chat, whose first message carries
    them). A change of model draws the panel again (its defaults are the new model's); a change
    in the panel answers nothing, so the focus stays where the reader moved it."""
    if models() is None:
        abort(404)
    conversation_id = request.form.get("conversation_id") or None
    conversation = owned_conversation(conversation_id) if conversation_id else None
    try:
        settings = posted(request.form) or {}
        if conversation is not None:
            services().conversations.choose(conversation, settings)
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, request.form.get("text", ""))
    if not htmx:
        return _back(conversation_id)
    if request.args.get("quiet"):
        return htmx_response("", reswap="none")
    return _panel(conversation_id, settings)


@bp.post("/turns/<turn_id>/keep/<int:index>")
def keep(turn_id: str, index: int) -> Any:
    """Keep one model's answer of a comparison as the reply (the others become its versions)."""
    turn = owned_turn(turn_id)
    conversation = owned_conversation(turn.conversation_id)
    try:
        services().conversations.keep(turn, index)
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, "")
    if not htmx:
        return _back(conversation.id)
    return render_messages(conversation)


@bp.post("/turns/<turn_id>/tools/<call_id>/<any(allow, deny):decision>")
def decide(turn_id: str, call_id: str, decision: str) -> Any:
    """Allow or deny a tool call the reply waits on (whichever worker runs the reply hears it)."""
    turn = owned_turn(turn_id)
    services().hub.decide(turn.id, call_id, decision == "allow")
    if not htmx:
        return _back(turn.conversation_id)
    return htmx_response("", reswap="none")


@bp.post("/presets")
def save_preset() -> Any:
    """Save the model and settings the panel shows as a named preset of the owner's."""
    if models() is None:
        abort(404)
    owner, conversation_id = current_owner(), request.form.get("conversation_id") or None
    conversation = owned_conversation(conversation_id) if conversation_id else None
    try:
        name = request.form.get("preset_name", "").strip()
        if not name:
            raise InputError("Name the preset first (for example \u201cTranslator\u201d).")
        if len(services().presets.mine(owner)) >= 100:
            raise Refused("You have 100 presets: delete one before saving another.", 429)
        services().presets.add(owner, name, posted(request.form) or {})
    except Refused as refused:
        return composer_error(refused.message, refused.status, conversation, request.form.get("text", ""))
    if not htmx:
        return _back(conversation_id)
    return _panel(conversation_id)


@bp.post("/presets/<preset_id>/chat")
def chat_from_preset(preset_id: str) -> Any:
    """A new chat with the preset's model and settings; it opens."""
    owner = current_owner()
    preset = next((p for p in presets_for(owner) if p.id == preset_id), None)
    if preset is None:
        abort(404)
    conversation = services().conversations.start_from(owner, posted(preset.settings) or {})
    target = url_for("web.conversation", conversation_id=conversation.id)
    if htmx:
        return htmx_response("", redirect=target)
    return redirect(target, 303)


@bp.post("/presets/<preset_id>/delete")
def delete_preset(preset_id: str) -> Any:
    if not services().presets.remove(current_owner(), preset_id):
        abort(404)
    conversation_id = request.form.get("conversation_id") or None
    if not htmx:
        return _back(conversation_id)
    return _panel(conversation_id)


def _back(conversation_id: str | None) -> Any:
    """Without JavaScript: back to the conversation (or the new chat) the form was on."""
    if conversation_id:
        return redirect(url_for("web.conversation", conversation_id=conversation_id), 303)
    return redirect(url_for("web.new_chat"), 303)


def _panel(conversation_id: str | None, settings: dict[str, Any] | None = None) -> Any:
    """The picker and the panel drawn again (the chosen model's defaults, the presets), out of
    band; ``settings``: those posted, for a new chat (nothing stored yet)."""
    shown = panel(conversation_id, current_owner(), settings)
    html = render_template("partials/model_picker.html", panel=shown, oob=True)
    html += render_template("partials/model_settings.html", panel=shown, oob=True)
    html += render_template("partials/presets.html", panel=shown, oob=True)
    return htmx_response(html, reswap="none")
