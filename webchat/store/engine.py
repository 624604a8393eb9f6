"""The database connection: the URL's driver, and SQLite's settings for concurrent use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def engine_url(url: str) -> str:
    """``postgresql://`` (or ``postgres://``) with psycopg 3, the driver webchat installs."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while a reply is written; busy_timeout makes concurrent writers wait
    # for each other instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL (a plain ``postgresql://`` uses psycopg 3)."""
    url = engine_url(url)
    if url.startswith("postgresql+psycopg"):
        try:
            import psycopg  # noqa: F401  (an optional dependency: only PostgreSQL needs it)
        except ImportError:
            raise RuntimeError(
                "--database-url postgresql://… needs psycopg: pip install 'webchat[postgres]'"
            ) from None
    # pre_ping: a server restart or an idle timeout must not turn into a failed request.
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
