"""The database schema, brought up to date at every start, for SQLite and PostgreSQL alike.

The migrations are alembic scripts in ``webchat/store/migrations/versions``, shipped inside the
package. Every worker upgrades as it starts, under a lock (a PostgreSQL advisory lock held for the
migration's transaction, or a file lock beside a SQLite file), so the first one migrates and the
others find the schema at head. A database made before there were migrations (by
``metadata.create_all``) is first stamped with the revision its tables match.

To change the schema, edit ``schema.py``, then let alembic write the migration from the
difference and review it::

    python -m webchat.store.migrate revision -m "what changed"

``tests/test_migrations.py`` checks that the migrations build exactly what ``schema.py`` says.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text

from webchat.store.engine import engine_url
from webchat.store.schema import metadata

MIGRATIONS = Path(__file__).with_name("migrations")
ADVISORY_LOCK = 0x77656263  # "webc": one number for every webchat sharing a PostgreSQL database


class SchemaError(RuntimeError):
    """The database and the code disagree in a way a migration must fix; the text says how."""


def config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(config()).get_current_head() or ""


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    try:
        import fcntl  # POSIX only
    except ImportError:  # pragma: no cover - not on Linux: one process at a time is the rule
        yield
        return
    lock = os.open(f"{database}.migrate-lock", os.O_WRONLY | os.O_CREAT, 0o600)  # private, as the database
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stamp_legacy(connection: Connection, cfg: Config) -> None:
    """A database made by create_all, before migrations: record which revision it matches."""
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or "conversations" not in tables:
        return
    columns = {c["name"] for c in inspect(connection).get_columns("conversations")}
    command.stamp(cfg, "0002" if "deleted_at" in columns else "0001")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (all migrations by default), one worker at a time."""
    cfg = config()
    with _file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK})
        cfg.attributes["connection"] = connection
        _stamp_legacy(connection, cfg)
        command.upgrade(cfg, revision)
    if revision == "head":
        check(engine)


def check(engine: Engine) -> None:
    """Refuse to run when schema.py declares tables that no migration creates."""
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
    missing = sorted(set(metadata.tables) - present)
    if missing:
        raise SchemaError(
            f"webchat/store/schema.py declares tables that no migration creates: {', '.join(missing)}. "
            'Write one with: python -m webchat.store.migrate revision -m "what changed"'
        )


def next_revision_id() -> str:
    numbers = [
        int(match.group(1))
        for path in (MIGRATIONS / "versions").glob("*.py")
        if (match := re.match(r"(\d+)_", path.name))
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def write_revision(message: str) -> None:
    """Write a migration for what schema.py has beyond the migrations (compared on a scratch SQLite
    database brought to head); check it on PostgreSQL too before committing it."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/scratch.sqlite3")
        upgrade_only(engine)
        cfg = config(str(engine.url))
        command.revision(cfg, message=message, autogenerate=True, rev_id=next_revision_id())
        engine.dispose()
        print(f"Wrote a migration: review it in {MIGRATIONS / 'versions'}")


def upgrade_only(engine: Engine) -> None:
    """Upgrade without the final check (for writing the migration that the check would ask for)."""
    cfg = config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m webchat.store.migrate", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "upgrade", help="bring a database to the newest schema (webchat does it at start)"
    )
    up.add_argument("url", help="the database, e.g. postgresql://user@host/webchat or sqlite:///path")
    now = commands.add_parser("current", help="which revision a database is at")
    now.add_argument("url")
    rev = commands.add_parser(
        "revision", help="write a migration for what schema.py has beyond the migrations"
    )
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    if args.command == "revision":
        write_revision(args.message)
        return
    engine = create_engine(engine_url(args.url))
    try:
        if args.command == "upgrade":
            upgrade(engine)
        with engine.connect() as connection:
            print(current(connection) or "(empty)", "(head)" if current(connection) == head() else "")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
