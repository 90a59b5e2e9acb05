"""The Webhook and WebhookDelivery types: where a key's session events go, and how that went."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from graphql_api.api.context import Info
from graphql_api.api.ids import to_global_id
from graphql_api.api.types.node import Connection, Node, child_connection
from graphql_api.api.types.session import Session
from graphql_api.api.webhook_loaders import webhook_loaders
from graphql_api.store.webhooks import DELIVERY_ORDERING


@strawberry.enum
class WebhookEventType(Enum):
    TURN_FINISHED = "TURN_FINISHED"
    TOOL_APPROVAL_REQUESTED = "TOOL_APPROVAL_REQUESTED"
    SESSION_ARCHIVED = "SESSION_ARCHIVED"


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.type(
    description="An HTTPS endpoint that receives signed POSTs (Standard Webhooks headers:\n"
    "webhook-id, webhook-timestamp, webhook-signature) for the key's sessions,\n"
    "at least once, retried with backoff."
)
class Webhook(Node):
    id: strawberry.ID
    url: str
    events: list[WebhookEventType]
    created_at: datetime
    key: strawberry.Private[UUID]
    session_key: strawberry.Private[UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> Webhook:
        return cls(
            id=strawberry.ID(to_global_id("Webhook", row.id)),
            url=row.url,
            events=[WebhookEventType(e) for e in row.events],
            created_at=row.created_at,
            key=row.id,
            session_key=row.session_id,
        )

    @strawberry.field(description="Only this session's events, when set.")
    async def session(self, info: Info) -> Session | None:
        if self.session_key is None:
            return None
        row = await info.context.loaders.session.load(self.session_key)
        return Session.from_row(row) if row is not None else None

    @strawberry.field(description="Deliveries, newest first.")
    async def deliveries(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> WebhookDeliveryConnection:
        loaders = webhook_loaders(info.context)
        return await child_connection(
            WebhookDeliveryConnection, info, list_name="Webhook.deliveries", parent=self.key,
            pages=loaders.deliveries, counts=loaders.delivery_count, ordering=DELIVERY_ORDERING,
            to_node=WebhookDelivery.from_row, first=first, after=after,
        )  # fmt: skip


@strawberry.type(description="One finished attempt to deliver: the response status or the error.")
class WebhookDeliveryAttempt:
    attempt: int
    started_at: datetime
    duration_ms: int
    response_status: int | None
    error: str | None
    outcome: str = strawberry.field(description="DELIVERED, RETRY or FAILED.")

    @classmethod
    def from_row(cls, row: Any) -> WebhookDeliveryAttempt:
        return cls(
            attempt=row.attempt,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            response_status=row.response_status,
            error=row.error,
            outcome=row.outcome,
        )


@strawberry.type
class WebhookDelivery(Node):
    id: strawberry.ID = strawberry.field(
        description="Its id; sent as the webhook-id header on every attempt, so receivers can dedupe."
    )
    event_type: WebhookEventType
    payload: JSON
    status: WebhookDeliveryStatus
    attempts: int = strawberry.field(
        description="Attempts started, including one whose instance stopped before it finished."
    )
    last_response_status: int | None
    next_attempt_at: datetime | None = strawberry.field(
        description="When a PENDING delivery is tried (again); null once DELIVERED or FAILED."
    )
    created_at: datetime
    last_error: str | None = strawberry.field(
        description="Why the last attempt did not deliver (timeout, HTTP status, refused destination)."
    )
    finished_at: datetime | None = strawberry.field(
        description="When it became DELIVERED or FAILED."
    )
    key: strawberry.Private[UUID]
    webhook_key: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, row: Any) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(to_global_id("WebhookDelivery", row.id)),
            event_type=WebhookEventType(row.event_type),
            payload=row.payload,
            status=WebhookDeliveryStatus(row.status),
            attempts=row.attempts,
            last_response_status=row.last_response_status,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            last_error=row.last_error,
            finished_at=row.finished_at,
            key=row.id,
            webhook_key=row.webhook_id,
        )

    @strawberry.field
    async def webhook(self, info: Info) -> Webhook | None:
        row = await info.context.loaders.webhook.load(self.webhook_key)
        return Webhook.from_row(row) if row is not None else None

    @strawberry.field(description="Every finished attempt, oldest first.")
    async def attempt_history(self, info: Info) -> list[WebhookDeliveryAttempt]:
        rows = await webhook_loaders(info.context).attempts.load(self.key)
        return [WebhookDeliveryAttempt.from_row(row) for row in rows]


@strawberry.type
class WebhookDeliveryConnection(Connection[WebhookDelivery]):
    pass


@strawberry.type
class WebhookConnection(Connection[Webhook]):
    pass
