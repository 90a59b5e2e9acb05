"""The deliverer's side of the outbox: claim due deliveries, record what each attempt got.

A claim is a conditional update: it bumps `attempts` and pushes `next_attempt_at` out to the
lease's end, so the row is not due for anyone else while this instance sends it, and becomes
due again by itself if the instance dies. `attempts` doubles as the fencing token: a late
result from an instance whose lease ran out (and whose row was claimed again) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.store.webhooks import attempts_table as a
from graphql_api.store.webhooks import deliveries_table as d
from graphql_api.store.webhooks import webhooks_table as w

PENDING, DELIVERED, FAILED, RETRY = "PENDING", "DELIVERED", "FAILED", "RETRY"


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this instance may now attempt, with what it needs to send it."""

    id: UUID
    webhook_id: UUID
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempt: int
    url: str
    stored_secret: Any  # sealed; `SecretBox.open` it right before signing

    def __repr__(self) -> str:  # never show the secret
        return f"ClaimedDelivery(id={self.id}, attempt={self.attempt}, event={self.event_type})"


async def claim_due_deliveries(
    conn: AsyncConnection, *, instance_id: str, limit: int, now: datetime, lease_until: datetime
) -> list[ClaimedDelivery]:
    """Claim up to `limit` due deliveries, oldest due first.

    PostgreSQL: one UPDATE over a `FOR UPDATE SKIP LOCKED` subquery, so instances claiming at
    the same moment take different rows and never wait on each other. SQLite (one writer):
    read the candidates, then claim them with an UPDATE that re-checks they are still due.
    """
    if limit <= 0:
        return []
    due = (
        select(d.c.id)
        .where(d.c.status == PENDING, d.c.next_attempt_at <= now)
        .order_by(d.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        candidates: Any = due.with_for_update(skip_locked=True)
    else:
        candidates = list((await conn.execute(due)).scalars())
        if not candidates:
            return []
    claimed = await conn.execute(
        update(d)
        .where(d.c.id.in_(candidates), d.c.status == PENDING, d.c.next_attempt_at <= now)
        .values(attempts=d.c.attempts + 1, next_attempt_at=lease_until, claimed_by=instance_id)
        .returning(d.c.id, d.c.attempts)
    )
    attempts = {row.id: row.attempts for row in claimed.all()}
    if not attempts:
        return []
    rows = await conn.execute(
        select(
            d.c.id, d.c.webhook_id, d.c.event_type, d.c.payload, d.c.created_at, w.c.url, w.c.secret
        )
        .join(w, w.c.id == d.c.webhook_id)
        .where(d.c.id.in_(list(attempts)))
        .order_by(d.c.created_at, d.c.id)
    )
    return [
        ClaimedDelivery(
            id=row.id,
            webhook_id=row.webhook_id,
            event_type=row.event_type,
            payload=row.payload,
            created_at=row.created_at,
            attempt=attempts[row.id],
            url=row.url,
            stored_secret=row.secret,
        )
        for row in rows.all()
    ]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What one attempt got: an HTTP status or an error, and what happens next."""

    outcome: str  # DELIVERED, RETRY or FAILED
    started_at: datetime
    duration_ms: int
    response_status: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None  # when outcome is RETRY


async def record_attempt(
    conn: AsyncConnection,
    delivery: ClaimedDelivery,
    record: AttemptRecord,
    *,
    instance_id: str,
    now: datetime,
) -> bool:
    """Store an attempt's result if this instance still holds the claim; False when it did not."""
    final = record.outcome != RETRY
    result = await conn.execute(
        update(d)
        .where(d.c.id == delivery.id, d.c.attempts == delivery.attempt, d.c.status == PENDING)
        .values(
            status=record.outcome if final else PENDING,
            last_response_status=record.response_status,
            last_error=record.error,
            next_attempt_at=None if final else record.next_attempt_at,
            finished_at=now if final else None,
            claimed_by=None,
        )
    )
    if not result.rowcount:
        return False
    await conn.execute(
        insert(a).values(
            delivery_id=delivery.id,
            attempt=delivery.attempt,
            instance_id=instance_id,
            started_at=record.started_at,
            duration_ms=record.duration_ms,
            response_status=record.response_status,
            error=record.error,
            outcome=record.outcome,
        )
    )
    return True
