"""The tables (DESIGN.md, "Data model"). Every ordering the API offers has an index, owner first.

No ORM relationships are declared: children are loaded in batches by the repositories, so
there is nothing that could lazy-load one row at a time.
"""

from __future__ import annotations

from uuid import UUID
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from graphql_api.store.types import BigIntPK, JSONType, UTCDateTime, new_id, utcnow


def _created_at() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16, description="First characters of the secret, for display.")
    key_hash: str = Field(max_length=64, unique=True, description="sha256 hex of the secret.")
    is_admin: bool = False
    created_at: datetime = _created_at()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Session(SQLModel, table=True):
    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_owner_created", "owner_key_id", "created_at", "id"),
        Index("ix_sessions_owner_updated", "owner_key_id", "updated_at", "id"),
        Index("ix_sessions_created", "created_at", "id"),
        Index("ix_sessions_updated", "updated_at", "id"),
        Index("ix_sessions_parent_created", "parent_id", "created_at", "id"),
        Index(
            "ix_sessions_metadata_gin",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: UUID = Field(default_factory=new_id, primary_key=True)
    owner_key_id: UUID = Field(
        sa_column=Column(ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False)
    )
    parent_id: UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("sessions.id", ondelete="SET NULL"))
    )
    title: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default="IDLE", sa_type=String(16))
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    model: str | None = Field(default=None, max_length=200)
    agent_session_id: str | None = Field(default=None, max_length=100)
    workspace: str | None = Field(default=None, sa_type=Text)
    fork_source_agent_session_id: str | None = Field(
        default=None, max_length=100, description="A fork's first turn resumes this agent session."
    )
    fork_at_message_uuid: str | None = Field(
        default=None, max_length=100, description="...as of this message (fork as of a turn)."
    )
    last_sequence: int = 0
    total_turns: int = 0
    total_cost_usd: float = 0.0
    metadata_: dict[str, Any] | None = Field(
        default=None, sa_column=Column("metadata", JSONType, nullable=True)
    )
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


class Turn(SQLModel, table=True):
    __tablename__ = "turns"
    __table_args__ = (
        Index("ix_turns_session_created", "session_id", "created_at", "id"),
        Index("ix_turns_status_created", "status", "created_at"),
    )

    id: UUID = Field(default_factory=new_id, primary_key=True)
    session_id: UUID = Field(
        sa_column=Column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(default="QUEUED", sa_type=String(16))
    prompt: str = Field(sa_type=Text)
    images: list[dict[str, Any]] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = _created_at()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration_ms: int | None = None
    cost_usd: float | None = None
    usage: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    num_turns: int | None = None
    result: str | None = Field(default=None, sa_type=Text)
    structured_output: Any | None = Field(default=None, sa_type=JSONType)
    error: str | None = Field(default=None, sa_type=Text)
    instance_id: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "sequence", name="uq_messages_session_sequence"),
        Index("ix_messages_turn_sequence", "turn_id", "sequence"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    session_id: UUID = Field(
        sa_column=Column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    )
    turn_id: UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("turns.id", ondelete="CASCADE"))
    )
    sequence: int
    role: str = Field(sa_type=String(16))
    content: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    model: str | None = Field(default=None, max_length=200)
    parent_tool_use_id: str | None = Field(default=None, max_length=100)
    uuid: str | None = Field(default=None, max_length=100)
    created_at: datetime = _created_at()


class Checkpoint(SQLModel, table=True):
    __tablename__ = "checkpoints"
    __table_args__ = (Index("ix_checkpoints_session_created", "session_id", "created_at", "id"),)

    id: UUID = Field(default_factory=new_id, primary_key=True)
    session_id: UUID = Field(
        sa_column=Column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    )
    turn_id: UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("turns.id", ondelete="CASCADE"))
    )
    user_message_uuid: str = Field(max_length=100)
    files_modified: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    created_at: datetime = _created_at()


class ToolApproval(SQLModel, table=True):
    """A tool use waiting for (or given) a client's decision."""

    __tablename__ = "tool_approvals"
    __table_args__ = (
        Index("ix_tool_approvals_session_status", "session_id", "status", "created_at"),
    )

    id: UUID = Field(default_factory=new_id, primary_key=True)
    session_id: UUID = Field(
        sa_column=Column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    )
    turn_id: UUID = Field(
        sa_column=Column(ForeignKey("turns.id", ondelete="CASCADE"), nullable=False)
    )
    tool_name: str = Field(max_length=200)
    tool_use_id: str | None = Field(default=None, max_length=100)
    input: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    status: str = Field(default="PENDING", sa_type=String(16))
    message: str | None = Field(default=None, sa_type=Text)
    updated_input: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    created_at: datetime = _created_at()
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AgentTranscriptEntry(SQLModel, table=True):
    """One line of a Claude Code transcript, mirrored through the SDK's SessionStore.

    `entry` (and the summary's `data`) are plain JSON, not JSONB, on PostgreSQL: they are opaque
    blobs that must round-trip, and JSONB rejects strings holding U+0000 or a lone UTF-16
    surrogate, both of which can occur in tool output. Rows are read back in `id` order.
    """

    __tablename__ = "agent_transcript_entries"
    __table_args__ = (
        Index("ix_transcript_key", "project_key", "session_id", "subpath", "id"),
        UniqueConstraint(
            "project_key", "session_id", "subpath", "entry_uuid", name="uq_transcript_entry_uuid"
        ),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    project_key: str = Field(max_length=255)
    session_id: str = Field(max_length=100)
    subpath: str = Field(default="", max_length=255)
    entry_uuid: str | None = Field(default=None, max_length=100)
    entry: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    created_at: datetime = _created_at()


class AgentSessionSummary(SQLModel, table=True):
    """The SDK's incrementally folded summary of a main transcript (`data` is opaque to us).

    One row per main transcript that has entries; it also serves `list_sessions` (`mtime` is the
    storage write time in epoch ms).
    """

    __tablename__ = "agent_session_summaries"

    project_key: str = Field(max_length=255, primary_key=True)
    session_id: str = Field(max_length=100, primary_key=True)
    mtime: int = Field(sa_type=BigInteger)
    data: dict[str, Any] = Field(sa_type=JSON, nullable=False)


class Webhook(SQLModel, table=True):
    """An endpoint that receives one key's session events, signed with its own secret."""

    __tablename__ = "webhooks"
    __table_args__ = (
        Index("ix_webhooks_owner_created", "owner_key_id", "created_at", "id"),
        Index("ix_webhooks_session", "session_id"),
    )

    id: UUID = Field(default_factory=new_id, primary_key=True)
    owner_key_id: UUID = Field(
        sa_column=Column(ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False)
    )
    session_id: UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("sessions.id", ondelete="CASCADE"))
    )
    url: str = Field(sa_type=Text)
    events: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    secret: str = Field(
        sa_type=Text,
        description="The signing secret (whsec_...), or its encryption when a key is configured.",
    )
    created_at: datetime = _created_at()


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook: an outbox row, retried until DELIVERED or FAILED.

    A PENDING row is due when `next_attempt_at` has passed; claiming it pushes that time out by
    the claim timeout, so a row whose instance died becomes due again by itself.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: UUID = Field(default_factory=new_id, primary_key=True)
    webhook_id: UUID = Field(
        sa_column=Column(ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    )
    event_type: str = Field(sa_type=String(32))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    status: str = Field(default="PENDING", sa_type=String(16))
    attempts: int = Field(default=0, description="Attempts started (claims), finished or not.")
    last_response_status: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = _created_at()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDeliveryAttempt(SQLModel, table=True):
    """What one finished attempt of a delivery got back: a status code or an error."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        Index("ix_webhook_delivery_attempts_delivery", "delivery_id", "attempt"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    delivery_id: UUID = Field(
        sa_column=Column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False)
    )
    attempt: int
    instance_id: str = Field(max_length=100)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    duration_ms: int
    response_status: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    outcome: str = Field(sa_type=String(16), description="DELIVERED, RETRY or FAILED.")
