"""Models per conversation: ``conversations.settings`` (the model chosen and its settings), and
``presets`` (a user's saved model and settings).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "settings" not in {c["name"] for c in inspector.get_columns("conversations")}:
        with op.batch_alter_table("conversations") as batch:
            batch.add_column(sa.Column("settings", sa.Text, nullable=True))
    if "presets" not in inspector.get_table_names():
        op.create_table(
            "presets",
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("owner", sa.String(128), nullable=False),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("settings", sa.Text, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
        )
        op.create_index("ix_presets_owner", "presets", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_presets_owner", table_name="presets")
    op.drop_table("presets")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("settings")
