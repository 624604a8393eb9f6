"""The client a turn was started from (a keyed hash of its address), to count running turns per
client address as well as per session.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("turns")}
    if "client" in columns:
        return  # made by create_all before migrations existed
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("client", sa.String(32), nullable=True))
        batch.create_index("ix_turns_client_status", ["client", "status"])


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_index("ix_turns_client_status")
        batch.drop_column("client")
