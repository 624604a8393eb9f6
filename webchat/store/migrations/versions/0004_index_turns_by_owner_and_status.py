"""Index turns by owner and status: every new turn counts the owner's running ones.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_turns_owner_status"


def upgrade() -> None:
    # A database made before migrations existed may already have it (create_all made the head).
    existing = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("turns")}
    if INDEX not in existing:
        with op.batch_alter_table("turns", schema=None) as batch_op:
            batch_op.create_index(INDEX, ["owner", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
