"""Versions and branches: messages form a tree (``parent_id``, ``active``), a retry names the turn
whose input it answers (``turns.inputs_from``), and a conversation counts its branch changes
(``branch_rev``). Every stored conversation becomes a tree of one branch: each message's parent is
the message before it.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    columns = {c["name"] for c in inspector.get_columns("messages")}
    if "parent_id" not in columns:
        with op.batch_alter_table("messages") as batch:
            batch.add_column(sa.Column("parent_id", sa.Integer, nullable=True))
            batch.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
            batch.add_column(sa.Column("selected_at", sa.Float, nullable=False, server_default="0"))
    if "branch_rev" not in {c["name"] for c in inspector.get_columns("conversations")}:
        with op.batch_alter_table("conversations") as batch:
            batch.add_column(sa.Column("branch_rev", sa.Integer, nullable=False, server_default="0"))
    if "inputs_from" not in {c["name"] for c in inspector.get_columns("turns")}:
        with op.batch_alter_table("turns") as batch:
            batch.add_column(sa.Column("inputs_from", sa.String(32), nullable=True))
    # Each message's parent: the one before it in its conversation (one statement, by the index
    # on conversation and id, for SQLite and PostgreSQL alike).
    bind.execute(
        sa.text(
            "UPDATE messages SET parent_id = (SELECT MAX(m2.id) FROM messages m2"
            " WHERE m2.conversation_id = messages.conversation_id AND m2.id < messages.id)"
            " WHERE parent_id IS NULL"
        )
    )
    bind.execute(sa.text("UPDATE messages SET selected_at = created_at WHERE selected_at = 0"))
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes("messages")}
    if "ix_messages_active" not in indexes:
        op.create_index("ix_messages_active", "messages", ["conversation_id", "active", "id"])
    if "ix_messages_parent" not in indexes:
        op.create_index("ix_messages_parent", "messages", ["conversation_id", "parent_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_parent", table_name="messages")
    op.drop_index("ix_messages_active", table_name="messages")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("inputs_from")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("branch_rev")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("active")
        batch.drop_column("parent_id")
