"""Signed-in sessions and failed sign-ins, in the database so that every worker and host agrees.

A session token is 256 random bits held in the signed cookie; the table keeps only its sha256.
Failed sign-ins are rows with a time, counted over a window: no counter to reset by restarting a
worker, and the count is the same whichever worker a guess lands on.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select

from webchat.store.schema import login_failures, logins

SESSION_SECONDS = 30 * 24 * 3600.0


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Failures:
    count: int
    oldest: float | None  # when the oldest failure in the window happened


class Logins:
    def __init__(self, engine: Engine, *, session_seconds: float = SESSION_SECONDS) -> None:
        self.engine = engine
        self.session_seconds = session_seconds

    # Sessions

    def create(self, username: str) -> str:
        """A new session for ``username``; returns the token for the cookie (never stored)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as db:
            db.execute(delete(logins).where(logins.c.expires_at < now))
            db.execute(
                insert(logins).values(
                    token_hash=_hash(token),
                    username=username,
                    created_at=now,
                    expires_at=now + self.session_seconds,
                )
            )
        return token

    def user_of(self, token: str) -> str | None:
        query = select(logins.c.username).where(
            logins.c.token_hash == _hash(token), logins.c.expires_at > time.time()
        )
        with self.engine.connect() as db:
            return db.execute(query).scalar_one_or_none()

    def end(self, token: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(logins).where(logins.c.token_hash == _hash(token)))

    def end_all(self, username: str) -> int:
        with self.engine.begin() as db:
            return db.execute(delete(logins).where(logins.c.username == username)).rowcount

    # Failed sign-ins

    def record_failure(self, keys: list[str], window: float) -> None:
        now = time.time()
        with self.engine.begin() as db:
            db.execute(delete(login_failures).where(login_failures.c.at < now - window))
            db.execute(insert(login_failures), [{"key": key, "at": now} for key in keys])

    def failures(self, key: str, window: float) -> Failures:
        query = select(func.count(), func.min(login_failures.c.at)).where(
            login_failures.c.key == key, login_failures.c.at >= time.time() - window
        )
        with self.engine.connect() as db:
            count, oldest = db.execute(query).one()
        return Failures(int(count), oldest)

    def clear_failures(self, key: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(login_failures).where(login_failures.c.key == key))
