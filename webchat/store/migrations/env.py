"""alembic's environment for webchat: run by webchat.store.migrate (never by hand: see its docs)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from webchat.store.schema import metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: alembic copies the table instead ("batch" mode).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("webchat's migrations run against a database, not as SQL scripts.")

connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as fresh:
        run(fresh)
    engine.dispose()
