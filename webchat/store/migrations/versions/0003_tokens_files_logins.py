"""API tokens, stored files, turn inputs, and sign-in sessions with failed sign-ins.

Databases made by earlier development versions (before migrations) may have some of these
tables already: those are left as they are.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _missing(name: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if _missing("api_tokens"):
        op.create_table(
            "api_tokens",
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("owner", sa.String(128), nullable=False),
            sa.Column("name", sa.Text(), nullable=False),
            sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
            sa.Column("hint", sa.String(16), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("last_used_at", sa.Float(), nullable=True),
        )
        op.create_index("ix_api_tokens_owner", "api_tokens", ["owner"])
    if _missing("files"):
        op.create_table(
            "files",
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("owner", sa.String(128), nullable=False),
            sa.Column("conversation_id", sa.String(32), nullable=True),
            sa.Column("name", sa.Text(), nullable=False),
            sa.Column("mime_type", sa.String(128), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.Column("origin", sa.String(8), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
        )
        op.create_index("ix_files_owner", "files", ["owner"])
    if _missing("turn_inputs"):
        op.create_table(
            "turn_inputs",
            sa.Column("turn_id", sa.String(32), primary_key=True),
            sa.Column("data", sa.Text(), nullable=False),
        )
    if _missing("logins"):
        op.create_table(
            "logins",
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("username", sa.String(128), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("expires_at", sa.Float(), nullable=False),
        )
        op.create_index("ix_logins_username", "logins", ["username"])
    if _missing("login_failures"):
        op.create_table(
            "login_failures",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("key", sa.String(200), nullable=False),
            sa.Column("at", sa.Float(), nullable=False),
        )
        op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])


def downgrade() -> None:
    for name in ("login_failures", "logins", "turn_inputs", "files", "api_tokens"):
        op.drop_table(name)
