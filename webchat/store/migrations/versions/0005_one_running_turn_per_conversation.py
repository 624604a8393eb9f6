"""One running turn per conversation, enforced by the database (a partial unique index).

A lock in the process cannot stop two workers from starting two replies in one conversation at
the same instant; this index can.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEX = "ux_turns_one_running"
RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    bind = op.get_bind()
    if INDEX in {i["name"] for i in sa.inspect(bind).get_indexes("turns")}:
        return  # made by create_all before migrations existed
    # Keep the newest running turn of each conversation; an older one has no runner to finish it.
    bind.execute(
        sa.text(
            "UPDATE turns SET status = 'interrupted' WHERE status = 'running' AND EXISTS ("
            " SELECT 1 FROM turns AS newer WHERE newer.conversation_id = turns.conversation_id"
            " AND newer.status = 'running' AND (newer.created_at > turns.created_at"
            " OR (newer.created_at = turns.created_at AND newer.id > turns.id)))"
        )
    )
    op.create_index(
        INDEX, "turns", ["conversation_id"], unique=True, sqlite_where=RUNNING, postgresql_where=RUNNING
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="turns")
