"""Runner leases and reply checkpoints: which process produces a running turn (its lease in
``runners``), and the reply so far, stored about once a second while it streams.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "runners" in inspector.get_table_names():
        return  # made by create_all before migrations existed
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("runner_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("checkpoint", sa.Text(), nullable=True))
    op.create_table(
        "runners",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("renewed_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("runners")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("checkpoint")
        batch.drop_column("runner_id")
