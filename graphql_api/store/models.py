"""The tables (DESIGN.md, "Data model"). Every ordering the API offers has an index, owner first.

No ORM relationships are declared: children are loaded in batches by the repositories, so
there is nothing that could lazy-load one row at a time.
"""

from __future__ import annotations

from uuid import UUID
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Text, UniqueConstraint
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
    """One line of a Claude Code transcript, mirrored through the SDK's SessionStore."""

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
    entry: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
    created_at: datetime = _created_at()


class AgentSessionSummary(SQLModel, table=True):
    """The SDK's incrementally folded summary of a transcript (opaque to us)."""

    __tablename__ = "agent_session_summaries"

    project_key: str = Field(max_length=255, primary_key=True)
    session_id: str = Field(max_length=100, primary_key=True)
    mtime: int = Field(sa_type=BigInteger)
    data: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
