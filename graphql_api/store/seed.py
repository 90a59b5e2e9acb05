"""Realistic demo data: sessions with turns, messages of every block type, checkpoints, forks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import insert

from graphql_api.domain.api_keys import ApiKeyService
from graphql_api.store.api_keys import ApiKeyRepository
from graphql_api.store.checkpoints import checkpoints_table
from graphql_api.store.database import Database
from graphql_api.store.messages import messages_table
from graphql_api.store.scoping import sessions_table
from graphql_api.store.turns import turns_table
from graphql_api.store.types import new_id, utcnow

MESSAGES_PER_TURN = 5


def _turn_messages(turn_index: int, prompt: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """One turn as the agent writes it: prompt, thinking + tool use, tool result, answer, result."""
    tool_id = f"toolu_{turn_index:04d}"
    return [
        ("USER", [{"type": "text", "text": prompt}]),
        (
            "ASSISTANT",
            [
                {"type": "thinking", "thinking": "Let me look at the file first.", "signature": "sig"},
                {"type": "tool_use", "id": tool_id, "name": "Read", "input": {"file_path": "app.py"}},
            ],
        ),
        (
            "USER",
            [{"type": "tool_result", "tool_use_id": tool_id, "content": "print('hi')", "is_error": False}],
        ),
        (
            "ASSISTANT",
            [
                {"type": "text", "text": f"The file prints a greeting (turn {turn_index})."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ],
        ),
        ("RESULT", [{"type": "text", "text": "The file prints a greeting."}]),
    ]


def build_session(
    owner_key_id: UUID,
    index: int,
    messages: int,
    created_at: datetime,
    parent_id: UUID | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for one session: (session, turns, messages, checkpoints)."""
    session_id = new_id()
    turns: list[dict[str, Any]] = []
    message_rows: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    turn_count = -(-messages // MESSAGES_PER_TURN)
    for t in range(turn_count):
        turn_id = new_id()
        at = created_at + timedelta(seconds=10 * t)
        prompt = f"Explain app.py, part {t + 1}"
        turns.append(
            {
                "id": turn_id, "session_id": session_id, "status": "COMPLETED", "prompt": prompt,
                "created_at": at, "started_at": at, "finished_at": at + timedelta(seconds=4),
                "duration_ms": 4000, "cost_usd": 0.0123, "num_turns": 2,
                "usage": {"input_tokens": 1200, "output_tokens": 180},
                "result": "The file prints a greeting.",
            }
        )  # fmt: skip
        checkpoints.append(
            {
                "id": new_id(), "session_id": session_id, "turn_id": turn_id,
                "user_message_uuid": str(new_id()), "files_modified": ["app.py"], "created_at": at,
            }
        )  # fmt: skip
        for role, content in _turn_messages(t, prompt):
            if len(message_rows) == messages:
                break
            message_rows.append(
                {
                    "session_id": session_id, "turn_id": turn_id,
                    "sequence": len(message_rows) + 1, "role": role, "content": content,
                    "model": "claude-sonnet-4-5" if role == "ASSISTANT" else None,
                    "uuid": str(new_id()), "created_at": at,
                }
            )  # fmt: skip
    session = {
        "id": session_id, "owner_key_id": owner_key_id, "parent_id": parent_id,
        "title": f"Session {index}: explain app.py", "status": "IDLE",
        "options": {"permissionMode": "DEFAULT", "allowedTools": ["Read"]},
        "model": "claude-sonnet-4-5", "agent_session_id": str(new_id()),
        "last_sequence": len(message_rows), "total_turns": len(turns),
        "total_cost_usd": round(0.0123 * len(turns), 6),
        "metadata": {"project": "demo", "index": index, "team": f"team-{index % 3}"},
        "created_at": created_at, "updated_at": created_at + timedelta(seconds=10 * turn_count),
    }  # fmt: skip
    return session, turns, message_rows, checkpoints


async def insert_sessions(
    db: Database, owner_key_id: UUID, sessions: int, messages: int, *, fork_every: int = 5
) -> list[UUID]:
    """Insert `sessions` sessions (every `fork_every`-th a fork of the one before) in batches."""
    start = utcnow() - timedelta(minutes=sessions)
    ids: list[UUID] = []
    batch: tuple[list[Any], list[Any], list[Any], list[Any]] = ([], [], [], [])
    for i in range(sessions):
        parent = ids[-1] if fork_every and i % fork_every == fork_every - 1 else None
        rows = build_session(owner_key_id, i, messages, start + timedelta(minutes=i), parent)
        ids.append(rows[0]["id"])
        batch[0].append(rows[0])
        for target, extra in zip(batch[1:], rows[1:], strict=True):
            target.extend(extra)
        if len(batch[0]) >= 500 or i == sessions - 1:
            async with db.transaction() as conn:
                for table, values in zip(
                    (sessions_table, turns_table, messages_table, checkpoints_table), batch, strict=True
                ):
                    if values:
                        await conn.execute(insert(table), values)
            batch = ([], [], [], [])
    return ids


async def seed(database_url: str, *, sessions: int, messages: int, key_name: str) -> str | None:
    """Seed data owned by `key_name` (created if missing); returns a new key's secret."""
    db = Database(database_url)
    try:
        async with db.read() as conn:
            key = await ApiKeyRepository(conn).find_by_name(key_name)
        secret = None
        if key is None:
            created = await ApiKeyService(db).create(key_name)
            key_id, secret = created.row["id"], created.secret
        else:
            key_id = key.id
        await insert_sessions(db, key_id, sessions, messages)
        print(f"seeded {sessions} sessions x {messages} messages for key '{key_name}'")
        return secret
    finally:
        await db.dispose()
