"""Webhooks and their deliveries: owner-scoped reads, and the outbox insert the runner calls.

`enqueue_webhook_deliveries` runs on the caller's connection, so a delivery row exists exactly
when the change that caused it commits (a transactional outbox): no event is lost between
"turn finished" and "webhook queued", and none is sent for a change that rolled back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.principal import Principal
from graphql_api.domain.webhook_events import WEBHOOK_EVENT_TYPES, jsonable
from graphql_api.store.keyset import (
    Ordering,
    Page,
    PageSpec,
    count_children,
    fetch_child_pages,
    fetch_page,
)
from graphql_api.store.models import Webhook, WebhookDelivery, WebhookDeliveryAttempt
from graphql_api.store.scoping import scope_params
from graphql_api.store.scoping import sessions_table as s
from graphql_api.store.types import new_id, utcnow

webhooks_table: Table = Webhook.__table__  # type: ignore[attr-defined]
deliveries_table: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
attempts_table: Table = WebhookDeliveryAttempt.__table__  # type: ignore[attr-defined]
w, d, a = webhooks_table, deliveries_table, attempts_table

#: Newest first, served by ix_webhooks_owner_created / ix_webhook_deliveries_webhook_created.
WEBHOOK_ORDERING = Ordering((w.c.created_at, w.c.id), descending=True)
DELIVERY_ORDERING = Ordering((d.c.created_at, d.c.id), descending=True)


def owned_webhooks(principal: Principal) -> Select[Any]:
    """The caller's webhooks (every webhook for an admin key)."""
    stmt = select(w)
    if principal.owner_filter is not None:
        stmt = stmt.where(w.c.owner_key_id == principal.owner_filter)
    return stmt


@cache
def deliveries_statement(scoped: bool) -> Select[Any]:
    """The deliveries of the caller's webhooks (`owned_deliveries`), built once with the owner
    a bind parameter (scoping.scope_params)."""
    stmt = select(d)
    if not scoped:
        return stmt
    return stmt.select_from(d.join(w, w.c.id == d.c.webhook_id)).where(w.c.owner_key_id == bindparam("owner"))


def owned_deliveries(principal: Principal) -> Select[Any]:
    """Deliveries of the caller's webhooks, scoped by a join to their webhook."""
    return deliveries_statement(principal.owner_filter is not None).params(scope_params(principal))


class WebhookRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get_many(self, principal: Principal, ids: Sequence[UUID]) -> dict[UUID, Any]:
        stmt = owned_webhooks(principal).where(w.c.id.in_(ids))
        return {row.id: row for row in (await self.conn.execute(stmt)).all()}

    async def page(self, principal: Principal, spec: PageSpec) -> Page:
        return await fetch_page(self.conn, owned_webhooks(principal), WEBHOOK_ORDERING, spec)

    async def count(self, principal: Principal) -> int:
        stmt = owned_webhooks(principal).with_only_columns(func.count())
        return int((await self.conn.execute(stmt)).scalar_one())

    async def insert(self, values: dict[str, Any]) -> Any:
        return (await self.conn.execute(insert(w).values(**values).returning(*w.c))).one()

    async def owns_session(self, owner_key_id: UUID, session_id: UUID) -> bool:
        """Whether the session is this key's own (admin or not: events match by owner)."""
        stmt = select(s.c.id).where(s.c.id == session_id, s.c.owner_key_id == owner_key_id)
        return (await self.conn.execute(stmt)).first() is not None

    async def delete(self, principal: Principal, webhook_id: UUID) -> bool:
        """Deletes the webhook and (cascading) its deliveries; False when it is not the caller's."""
        stmt = delete(w).where(w.c.id == webhook_id)
        if principal.owner_filter is not None:
            stmt = stmt.where(w.c.owner_key_id == principal.owner_filter)
        return bool((await self.conn.execute(stmt)).rowcount)


class WebhookDeliveryRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get_many(self, principal: Principal, ids: Sequence[UUID]) -> dict[UUID, Any]:
        stmt = owned_deliveries(principal).where(d.c.id.in_(ids))
        return {row.id: row for row in (await self.conn.execute(stmt)).all()}

    async def pages_by_webhook(
        self, principal: Principal, webhook_ids: Sequence[UUID], spec: PageSpec
    ) -> dict[UUID, Page]:
        return await fetch_child_pages(
            self.conn,
            deliveries_statement(principal.owner_filter is not None),
            scope_params(principal),
            d.c.webhook_id,
            webhook_ids,
            DELIVERY_ORDERING,
            spec,
        )

    async def counts_by_webhook(
        self, principal: Principal, webhook_ids: Sequence[UUID]
    ) -> dict[UUID, int]:
        return await count_children(
            self.conn, owned_deliveries(principal), d.c.webhook_id, webhook_ids
        )

    async def attempts_by_delivery(
        self, principal: Principal, delivery_ids: Sequence[UUID]
    ) -> dict[UUID, list[Any]]:
        """Each delivery's finished attempts, oldest first, in one statement."""
        stmt = select(a).where(a.c.delivery_id.in_(delivery_ids))
        if principal.owner_filter is not None:
            stmt = stmt.select_from(
                a.join(d, d.c.id == a.c.delivery_id).join(w, w.c.id == d.c.webhook_id)
            ).where(w.c.owner_key_id == principal.owner_filter)
        grouped: dict[UUID, list[Any]] = defaultdict(list)
        for row in (
            await self.conn.execute(stmt.order_by(a.c.delivery_id, a.c.attempt, a.c.id))
        ).all():
            grouped[row.delivery_id].append(row)
        return grouped


def _subscribed_to(conn: AsyncConnection, event_type: str) -> ColumnElement[bool]:
    """`events` (a JSON list) holds `event_type`."""
    if conn.dialect.name == "postgresql":
        return w.c.events.op("@>")(type_coerce([event_type], JSONB))
    each = func.json_each(w.c.events).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(each.c.value == event_type))


async def enqueue_webhook_deliveries(
    conn: AsyncConnection,
    *,
    owner_key_id: UUID,
    session_id: UUID | None,
    event_type: str,
    payload: Mapping[str, Any],
) -> int:
    """Queue `event_type` for every matching webhook, in the caller's transaction.

    Matching: owned by `owner_key_id` (the session's owner), subscribed to `event_type`, and
    either for all the key's sessions or for `session_id`. Returns how many rows were queued;
    the deliverer of any instance sends them once the transaction commits.
    """
    if event_type not in WEBHOOK_EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    body = jsonable(payload)
    scope: ColumnElement[bool] = w.c.session_id.is_(None)
    if session_id is not None:
        scope = or_(scope, w.c.session_id == session_id)
    matching = select(w.c.id).where(
        w.c.owner_key_id == owner_key_id, scope, _subscribed_to(conn, event_type)
    )
    webhook_ids = list((await conn.execute(matching)).scalars())
    if not webhook_ids:
        return 0
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "webhook_id": webhook_id,
            "event_type": event_type,
            "payload": body,
            "status": "PENDING",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for webhook_id in webhook_ids
    ]
    await conn.execute(insert(d), rows)
    return len(rows)


async def enqueue_session_event(
    conn: AsyncConnection, session: Any, event_type: str, payload: Mapping[str, Any]
) -> None:
    """The TurnRunner's `outbox` hook: queue a session's event for its owner's webhooks."""
    await enqueue_webhook_deliveries(
        conn,
        owner_key_id=session.owner_key_id,
        session_id=session.id,
        event_type=event_type,
        payload=payload,
    )
