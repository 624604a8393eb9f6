"""Every service the routes use, built once by the composition root (``webchat.app.create_app``)
and kept on the app as one typed record: ``services()`` in a request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app

from webchat.backends import Backend
from webchat.backends.models import Models
from webchat.backends.tools import Toolbox
from webchat.conversation import Conversations
from webchat.files.storage import Uploads
from webchat.hub import TurnHub
from webchat.limits import RateWindow, SlidingWindow, Slots
from webchat.settings import Settings
from webchat.store import Store
from webchat.store.presets import PresetStore
from webchat.store.tokens import TokenStore
from webchat.turns import TurnRunner
from webchat.web.page import LikeHandler, Page

if TYPE_CHECKING:  # webchat.web.auth reads its record from here
    from webchat.web.auth import Auth

EXTENSION = "webchat"


@dataclass
class Services:
    settings: Settings
    store: Store
    hub: TurnHub
    # The model that answers (the default one, with the built-in models), and with the built-in
    # models all of those a conversation can pick (None for a Python program's chat function).
    backend: Backend
    models: Models | None
    # The MCP servers the built-in models may call (None: none configured).
    toolbox: Toolbox | None
    presets: PresetStore
    runner: TurnRunner
    uploads: Uploads
    conversations: Conversations
    page: Page
    tokens: TokenStore
    # Sign-in, when the settings turn it on (None: everybody is their browser session).
    auth: Auth | None
    # Messages per minute per owner; open sockets per owner; API completions at once per caller.
    rate: RateWindow
    sockets: Slots
    api_slots: Slots
    # Per client address: open sockets, and bytes uploaded per hour (its message rate and running
    # replies are counted by ``conversations``).
    client_sockets: Slots
    client_uploads: SlidingWindow
    # Called when a reply is liked or disliked (Gradio's ``chatbot.like``).
    on_like: LikeHandler | None = None
    started: int = field(default_factory=lambda: int(time.time()))


def services() -> Services:
    return current_app.extensions[EXTENSION]
