"""API tokens: created and revoked by their owner in the page, presented by programs as a bearer token.

A token is 256 random bits; the database keeps only its sha256, so a leaked database cannot be
used to call the API. (A slow password hash buys nothing for a token of that entropy.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from webchat.store.schema import api_tokens

PREFIX = "wct_"
MAX_NAME = 80
MAX_TOKENS_PER_OWNER = 50
# last_used_at is for the owner's eyes; rewriting it on every call would make each API request a write.
TOUCH_EVERY_SECONDS = 60.0


class TokenError(ValueError):
    """A token request that cannot be done; the text says why (shown in the page)."""


@dataclass(frozen=True)
class ApiToken:
    id: str
    owner: str
    name: str
    hint: str
    created_at: float
    last_used_at: float | None


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(secret: str) -> bool:
    return secret.startswith(PREFIX) and 20 <= len(secret) <= 100


class TokenStore:
    """Reads and writes the ``api_tokens`` table (created with the other tables by ``Store``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, owner: str, name: str) -> tuple[ApiToken, str]:
        """A new token for ``owner``: the record, and the secret, which is shown once and never stored."""
        name = " ".join(name.split())
        if not name:
            raise TokenError("Give the token a name, such as the program that will use it.")
        if len(name) > MAX_NAME:
            raise TokenError(f"A token's name can be at most {MAX_NAME} characters long.")
        if self.count(owner) >= MAX_TOKENS_PER_OWNER:
            raise TokenError(f"You have {MAX_TOKENS_PER_OWNER} tokens already; revoke one you no longer use.")
        secret = PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(secrets.token_urlsafe(9), owner, name, secret[: len(PREFIX) + 4], time.time(), None)
        with self.engine.begin() as db:
            db.execute(
                api_tokens.insert().values(
                    id=token.id,
                    owner=owner,
                    name=name,
                    token_hash=hash_token(secret),
                    hint=token.hint,
                    created_at=token.created_at,
                )
            )
        return token, secret

    def list(self, owner: str) -> list[ApiToken]:
        query = select(api_tokens).where(api_tokens.c.owner == owner).order_by(api_tokens.c.created_at.desc())
        with self.engine.connect() as db:
            return [_token(row) for row in db.execute(query)]

    def count(self, owner: str) -> int:
        query = select(func.count()).where(api_tokens.c.owner == owner)
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())

    def revoke(self, owner: str, token_id: str) -> bool:
        """Delete one of the owner's tokens; False if it is not theirs (or already gone)."""
        with self.engine.begin() as db:
            result = db.execute(
                delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.owner == owner)
            )
        return result.rowcount > 0

    def authenticate(self, secret: str) -> ApiToken | None:
        """The token this secret belongs to, or None; notes when it was last used."""
        if not looks_like_token(secret):
            return None
        digest = hash_token(secret)
        with self.engine.connect() as db:
            row = db.execute(select(api_tokens).where(api_tokens.c.token_hash == digest)).first()
        # The lookup is by hash, so timing does not reveal the secret; compare anyway to be explicit.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        token = _token(row)
        now = time.time()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY_SECONDS:
            with self.engine.begin() as db:
                db.execute(update(api_tokens).where(api_tokens.c.id == token.id).values(last_used_at=now))
        return token


def _token(row: Any) -> ApiToken:
    return ApiToken(row.id, row.owner, row.name, row.hint, row.created_at, row.last_used_at)
