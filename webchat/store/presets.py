"""Presets a user saved: a name, and a model with its settings (system prompt, sampling) as JSON,
to start new chats from. Each belongs to its owner; the models file's shared presets are not
stored here (webchat.backends.models_file)."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, select

from webchat.store.schema import presets

MAX_PRESETS = 100  # per owner
NAME_LENGTH = 80


@dataclass(frozen=True)
class StoredPreset:
    id: str
    owner: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    shared: bool = False  # the models file's, for every user (not stored here)


class PresetStore:
    """Reads and writes the ``presets`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, owner: str, name: str, settings: dict[str, Any]) -> StoredPreset:
        preset = StoredPreset(secrets.token_urlsafe(9), owner, " ".join(name.split())[:NAME_LENGTH], settings)
        with self.engine.begin() as db:
            db.execute(
                presets.insert().values(
                    id=preset.id,
                    owner=owner,
                    name=preset.name,
                    settings=json.dumps(settings, ensure_ascii=False),
                    created_at=time.time(),
                )
            )
        return preset

    def mine(self, owner: str) -> list[StoredPreset]:
        """The owner's presets, by name."""
        query = select(presets).where(presets.c.owner == owner).order_by(presets.c.name, presets.c.created_at)
        with self.engine.connect() as db:
            return [StoredPreset(r.id, r.owner, r.name, json.loads(r.settings)) for r in db.execute(query)]

    def get(self, owner: str, preset_id: str) -> StoredPreset | None:
        query = select(presets).where(presets.c.id == preset_id, presets.c.owner == owner)
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return StoredPreset(row.id, row.owner, row.name, json.loads(row.settings)) if row else None

    def remove(self, owner: str, preset_id: str) -> bool:
        with self.engine.begin() as db:
            return (
                db.execute(
                    delete(presets).where(presets.c.id == preset_id, presets.c.owner == owner)
                ).rowcount
                > 0
            )
