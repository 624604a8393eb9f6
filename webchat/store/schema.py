"""Tables: one row per conversation, per message and per turn (a reply being produced)."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Deleting hides a conversation at once and keeps it for a while, so "Undo" can bring it back.
    Column("deleted_at", Float, nullable=True),
    Index("ix_conversations_owner_updated", "owner", "updated_at"),
)

# A message row keeps the messages-format dict as JSON (role, content, metadata, options) plus
# what belongs to us, not to the format: which turn wrote it, how it ended, the user's rating.
messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        String(32),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("turn_id", String(32), nullable=True),
    # "input": what the user sent to start the turn; "reply": what the chat function answered.
    Column("kind", String(8), nullable=False, default="reply"),
    Column("role", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("status", String(16), nullable=False, default="complete"),
    Column("error", Text, nullable=True),
    Column("feedback", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_messages_conversation_id", "conversation_id", "id"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "conversation_id",
        String(32),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("owner", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Index("ix_turns_status", "status"),
)

# API tokens a user creates for programs. Only a hash of the token is kept: whoever reads the
# database cannot act as its owner. The hint (the token's first characters) tells tokens apart.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Index("ix_api_tokens_owner", "owner"),
)
