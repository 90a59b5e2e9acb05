"""DatabaseSessionStore: the SDK's `SessionStore` protocol over the project's database.

Claude Code keeps each conversation as a JSONL transcript on local disk. With
`ClaudeAgentOptions(session_store=DatabaseSessionStore(db))` the SDK mirrors every transcript
line here, and a `resume` on any instance materializes the transcript from here when the local
file is absent (DESIGN.md, "Agent transcripts (for resume on any instance)").

Storage (models `AgentTranscriptEntry`, `AgentSessionSummary`):

- `agent_transcript_entries`: one row per line. A key is (project_key, session_id, subpath);
  the main transcript has subpath "" (the SDK never sends an empty subpath). Rows come back in
  `id` order, which is insertion order. An entry's `uuid` is its idempotency key within a key
  (unique constraint + `INSERT ... ON CONFLICT DO NOTHING`); entries without one always land.
- `agent_session_summaries`: one row per main transcript, holding the SDK's opaque
  `fold_session_summary` state and the storage write time (`mtime`, epoch ms). It is written in
  the same transaction as the entries, so it doubles as the `list_sessions` index.

Concurrent appends to one main transcript (two instances, or a retried batch racing the late
original) queue on that session's summary row, which the append locks first: the fold is a
read-modify-write, and the lock also makes entry order equal commit order. On SQLite the first
statement of an append is a write, so the transaction holds SQLite's write lock from the start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from claude_agent_sdk import fold_session_summary
from claude_agent_sdk.types import (
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreListEntry,
    SessionSummaryEntry,
)
from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.store.database import Database
from graphql_api.store.models import AgentSessionSummary, AgentTranscriptEntry
from graphql_api.store.types import utcnow

entries_table: Table = AgentTranscriptEntry.__table__  # type: ignore[assignment]
summaries_table: Table = AgentSessionSummary.__table__  # type: ignore[assignment]
e = entries_table
s = summaries_table

MAIN = ""  # the subpath column's value for a main transcript

_PROJECT_KEY_MAX = e.c.project_key.type.length  # 255
_SESSION_ID_MAX = e.c.session_id.type.length  # 100
_SUBPATH_MAX = e.c.subpath.type.length  # 255
_UUID_MAX = e.c.entry_uuid.type.length  # 100


class DatabaseSessionStore(SessionStore):
    """The SDK's `SessionStore` on PostgreSQL or SQLite, optional methods included.

    `key_prefix` is prepended to every `project_key` the SDK passes in (plain concatenation, so
    end it with a separator such as ":"). Stores with different prefixes see disjoint data in
    one database: separate deployments sharing a database, per-tenant scoping, or one fresh
    namespace per test. Objects are cheap (no state besides the Database); make one per turn if
    the prefix varies.
    """

    def __init__(self, db: Database, *, key_prefix: str = "") -> None:
        if len(key_prefix) > 40:
            raise ValueError("key_prefix is limited to 40 characters")
        if db.dialect not in ("postgresql", "sqlite"):
            raise ValueError(f"unsupported database dialect: {db.dialect}")
        self.db = db
        self.key_prefix = key_prefix
        self._insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert

    # -- required -------------------------------------------------------------------------------

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        """Store a batch in order, skipping entries whose `uuid` the key already holds."""
        if not entries:
            return
        project_key, session_id, subpath = self._key(key)
        now = utcnow()
        now_ms = int(now.timestamp() * 1000)
        rows = [
            {
                "project_key": project_key,
                "session_id": session_id,
                "subpath": subpath,
                "entry_uuid": _idempotency_key(entry),
                "entry": entry,
                "created_at": now,
            }
            for entry in entries
        ]
        async with self.db.transaction() as conn:
            if subpath != MAIN:
                # Subagent transcripts never contribute to the main session's summary.
                await self._insert_entries(conn, rows)
                return
            prev = await self._lock_summary(conn, project_key, session_id)
            inserted = await self._insert_entries(conn, rows)
            fresh = _newly_stored(entries, rows, inserted)
            if not fresh and prev["mtime"] != 0:
                return  # a replayed batch: nothing new to fold
            folded = fold_session_summary(prev, key, fresh)
            await conn.execute(
                update(s)
                .where(s.c.project_key == project_key, s.c.session_id == session_id)
                # Storage write time, never going backwards for a session even if instance
                # clocks disagree, and distinct for back-to-back writes.
                .values(mtime=max(now_ms, prev["mtime"] + 1), data=folded["data"])
            )

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        """The key's entries in append order, or None if nothing was ever stored under it."""
        project_key, session_id, subpath = self._key(key)
        stmt = (
            select(e.c.entry)
            .where(
                e.c.project_key == project_key,
                e.c.session_id == session_id,
                e.c.subpath == subpath,
            )
            .order_by(e.c.id)
        )
        async with self.db.read() as conn:
            loaded = list((await conn.execute(stmt)).scalars())
        return loaded or None

    # -- optional -------------------------------------------------------------------------------

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        """Main transcripts under `project_key` with their last write time (epoch ms)."""
        stmt = select(s.c.session_id, s.c.mtime).where(
            s.c.project_key == self._project_key(project_key)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [{"session_id": r.session_id, "mtime": int(r.mtime)} for r in rows]

    async def list_session_summaries(self, project_key: str) -> list[SessionSummaryEntry]:
        """The stored `fold_session_summary` output of each main transcript under `project_key`."""
        stmt = select(s.c.session_id, s.c.mtime, s.c.data).where(
            s.c.project_key == self._project_key(project_key)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            {"session_id": r.session_id, "mtime": int(r.mtime), "data": dict(r.data)}
            for r in rows
        ]

    async def delete(self, key: SessionKey) -> None:
        """Delete one subagent transcript, or a main transcript with all its subkeys and summary."""
        project_key, session_id, subpath = self._key(key)
        async with self.db.transaction() as conn:
            if subpath != MAIN:
                await conn.execute(
                    delete(e).where(
                        e.c.project_key == project_key,
                        e.c.session_id == session_id,
                        e.c.subpath == subpath,
                    )
                )
                return
            # Summary first: an append to the same session queues on that row.
            await conn.execute(
                delete(s).where(s.c.project_key == project_key, s.c.session_id == session_id)
            )
            await conn.execute(
                delete(e).where(e.c.project_key == project_key, e.c.session_id == session_id)
            )

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        """The subpaths (e.g. "subagents/agent-<id>") stored under a session, main excluded."""
        project_key = self._project_key(key["project_key"])
        session_id = _checked(key["session_id"], _SESSION_ID_MAX, "session_id")
        stmt = (
            select(e.c.subpath)
            .where(
                e.c.project_key == project_key,
                e.c.session_id == session_id,
                e.c.subpath != MAIN,
            )
            .distinct()
            .order_by(e.c.subpath)
        )
        async with self.db.read() as conn:
            return list((await conn.execute(stmt)).scalars())

    # -- helpers --------------------------------------------------------------------------------

    def _project_key(self, project_key: str) -> str:
        return _checked(self.key_prefix + project_key, _PROJECT_KEY_MAX, "project_key")

    def _key(self, key: SessionKey) -> tuple[str, str, str]:
        subpath = key.get("subpath")
        return (
            self._project_key(key["project_key"]),
            _checked(key["session_id"], _SESSION_ID_MAX, "session_id"),
            _checked(subpath, _SUBPATH_MAX, "subpath") if subpath else MAIN,
        )

    async def _lock_summary(
        self, conn: AsyncConnection, project_key: str, session_id: str
    ) -> SessionSummaryEntry:
        """Create-or-lock the session's summary row in one statement and return its state.

        A new session gets a placeholder (mtime 0, empty data) that this same transaction
        overwrites, so it is never visible to readers. ON CONFLICT DO UPDATE (a no-op update)
        takes the row lock on PostgreSQL, so racing appends to one session run one at a time.
        """
        stmt = self._insert(s).values(
            project_key=project_key, session_id=session_id, mtime=0, data={}
        )
        stmt = stmt.on_conflict_do_update(
            # A no-op update (mtime = its current value): it only takes the row lock.
            index_elements=[s.c.project_key, s.c.session_id], set_={"mtime": s.c.mtime}
        ).returning(s.c.mtime, s.c.data)
        row = (await conn.execute(stmt)).one()
        return {"session_id": session_id, "mtime": int(row.mtime), "data": dict(row.data)}

    async def _insert_entries(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
        """Insert in order, skipping known uuids; returns the uuids that were stored now."""
        stmt = self._insert(e).on_conflict_do_nothing().returning(e.c.entry_uuid)
        result = await conn.execute(stmt, rows)
        return {u for u in result.scalars() if u is not None}


def _checked(value: str, limit: int | None, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters: {value[:60]!r}...")
    return value


def _idempotency_key(entry: SessionStoreEntry) -> str | None:
    """The entry's uuid as stored in `entry_uuid` (hashed if it would not fit), or None."""
    value = entry.get("uuid") if isinstance(entry, dict) else None
    if not isinstance(value, str) or not value:
        return None
    if _UUID_MAX is not None and len(value) > _UUID_MAX:
        return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return value


def _newly_stored(
    entries: Sequence[SessionStoreEntry], rows: Sequence[dict[str, Any]], inserted: set[str]
) -> list[SessionStoreEntry]:
    """The entries this append actually stored, in order (for the summary fold).

    Entries without a uuid always land; of entries with a uuid, only the first occurrence of a
    uuid the INSERT reported back was stored now.
    """
    fresh: list[SessionStoreEntry] = []
    seen: set[str] = set()
    for entry, row in zip(entries, rows, strict=True):
        uuid = row["entry_uuid"]
        if uuid is None:
            fresh.append(entry)
        elif uuid in inserted and uuid not in seen:
            seen.add(uuid)
            fresh.append(entry)
    return fresh
