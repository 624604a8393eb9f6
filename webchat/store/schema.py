"""Tables: one row per conversation, per message and per turn (a reply being produced)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
    true,
)

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
    # Counts the changes of which branch is selected (webchat.store.tree): a worker's cached
    # history (webchat.history) is known stale when it differs.
    Column("branch_rev", Integer, nullable=False, default=0, server_default="0"),
    # The model this conversation talks to and the settings changed from its defaults (system
    # prompt, temperature, top-p, max tokens), as JSON (webchat.backends.models); null: defaults.
    Column("settings", Text, nullable=True),
    Index("ix_conversations_owner_updated", "owner", "updated_at"),
)

# A message row keeps the messages-format dict as JSON (role, content, metadata, options) plus
# what belongs to us, not to the format: which turn wrote it, how it ended, the user's rating.
# The messages of a conversation form a tree (``parent_id``: the message before it on its
# branch); the selected branch is the path of ``active`` rows, and in it ids rise from the root,
# so reading it in id order reads the conversation (webchat.store.tree).
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
    # The message's id in URLs (/messages/<ref>/edit): random, as every id in a URL is; the
    # integer id orders the conversation and never leaves the server.
    Column("ref", String(16), nullable=True),
    Column("parent_id", Integer, nullable=True),
    Column("active", Boolean, nullable=False, default=True, server_default=true()),
    # When it was last on the selected branch (written, or selected again): switching to a version
    # shows the branch under it that was shown last.
    Column("selected_at", Float, nullable=False, default=0.0, server_default="0"),
    Index("ix_messages_conversation_id", "conversation_id", "id"),
    Index("ux_messages_ref", "ref", unique=True),
    # The selected branch in order, however many other branches the conversation has.
    Index("ix_messages_active", "conversation_id", "active", "id"),
    # A message's versions (its siblings) and a branch's descendants.
    Index("ix_messages_parent", "conversation_id", "parent_id"),
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
    # The process producing the reply (a row of ``runners``), and the reply so far, stored about
    # once a second while it streams: after a crash the reply keeps what its reader saw.
    Column("runner_id", String(32), nullable=True),
    Column("checkpoint", Text, nullable=True),
    # The client address the turn was started from, as a keyed hash (never the address itself):
    # its running turns are counted too, so a client that drops its cookie gets no fresh limit.
    Column("client", String(32), nullable=True),
    # A retry: the turn whose input messages this one answers again (its reply is another version).
    Column("inputs_from", String(32), nullable=True),
    Index("ix_turns_status", "status"),
    # Every new turn counts the owner's running ones (the per-session limit), and the client's.
    Index("ix_turns_owner_status", "owner", "status"),
    Index("ix_turns_client_status", "client", "status"),
    # One reply at a time per conversation, also when two workers (or hosts) start one at once.
    Index(
        "ux_turns_one_running",
        "conversation_id",
        unique=True,
        sqlite_where=text("status = 'running'"),
        postgresql_where=text("status = 'running'"),
    ),
)

# Every process that produces replies renews its row while it lives (its lease): only the running
# turns of a process whose lease lapsed are abandoned, so a worker starting beside one that drains
# (a reload) leaves that one's replies alone.
runners = Table(
    "runners",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("renewed_at", Float, nullable=False),
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

# A file kept in the data folder (an upload, or a file a chat function answered with). Its bytes
# live at ``files/<id>/<name>``; the row says who may fetch it and what it really is (the type
# sniffed from its bytes, not the one the browser claimed).
files = Table(
    "files",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("conversation_id", String(32), nullable=True),
    Column("name", Text, nullable=False),
    Column("mime_type", String(128), nullable=False),
    Column("size", Integer, nullable=False),
    # "upload": sent by the user (counts against the session's quota); "reply": a chat function's.
    Column("origin", String(8), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_files_owner", "owner"),
)

# A signed-in browser (auth on). The cookie carries a random token; the row keeps only its sha256,
# and deleting the row (sign out, or the user removed) ends that session on every worker at once.
logins = Table(
    "logins",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_logins_username", "username"),
)

# Failed sign-ins, kept for the rate-limit window; ``key`` is "user:<name>" or "addr:<address>".
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)

# Messages sent while a reply was still being written: each waits here (its messages as the JSON
# list of messages-format dicts, with the turn's extra values) and becomes a turn of its own when
# the conversation has no running turn any more, oldest first. ``ref`` names it in URLs.
queued_messages = Table(
    "queued_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        String(32),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("owner", String(128), nullable=False),
    Column("ref", String(16), nullable=False, unique=True),
    Column("messages", Text, nullable=False),
    Column("extra", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_queued_messages_conversation", "conversation_id", "id"),
)

# A named model and settings a user saved to start chats from (shared ones live in the models file).
presets = Table(
    "presets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("settings", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_presets_owner", "owner"),
)

# What a turn of a built-in model asked of its model server and how it went (webchat.turn_record),
# as JSON; gone with its turn.
turn_records = Table(
    "turn_records",
    metadata,
    Column("turn_id", String(32), ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True),
    Column("data", Text, nullable=False),
)

# The values a turn's chat function got after ``history`` (Gradio's additional inputs, or which
# event of a Blocks layout sent the message), as a JSON list: a retry or an edit reuses them.
turn_inputs = Table(
    "turn_inputs",
    metadata,
    Column("turn_id", String(32), primary_key=True),
    Column("data", Text, nullable=False),
)
