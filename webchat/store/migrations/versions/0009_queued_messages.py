"""Messages that wait for the reply being written: ``queued_messages``.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made before migrations existed may already have it (create_all made the head).
    if "queued_messages" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "queued_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("ref", sa.String(16), nullable=False, unique=True),
        sa.Column("messages", sa.Text, nullable=False),
        sa.Column("extra", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_queued_messages_conversation", "queued_messages", ["conversation_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_queued_messages_conversation", table_name="queued_messages")
    op.drop_table("queued_messages")
