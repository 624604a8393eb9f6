"""Random message ids for URLs: ``messages.ref``, filled in for the messages already stored.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    columns = {c["name"] for c in sa.inspect(bind).get_columns("messages")}
    if "ref" not in columns:
        with op.batch_alter_table("messages") as batch:
            batch.add_column(sa.Column("ref", sa.String(16), nullable=True))
    messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("ref", sa.String))
    missing = [row.id for row in bind.execute(sa.select(messages.c.id).where(messages.c.ref.is_(None)))]
    for start in range(0, len(missing), 1000):
        bind.execute(
            sa.update(messages)
            .where(messages.c.id == sa.bindparam("row_id"))
            .values(ref=sa.bindparam("new_ref")),
            [
                {"row_id": row_id, "new_ref": secrets.token_urlsafe(9)}
                for row_id in missing[start : start + 1000]
            ],
        )
    indexes = {i["name"] for i in sa.inspect(bind).get_indexes("messages")}
    if "ux_messages_ref" not in indexes:
        op.create_index("ux_messages_ref", "messages", ["ref"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_messages_ref", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("ref")
