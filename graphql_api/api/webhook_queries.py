"""Query.webhooks: the caller's webhooks, newest first (an admin key sees every key's)."""

from __future__ import annotations

import strawberry

from graphql_api.api.context import Info
from graphql_api.api.pagination import page_spec
from graphql_api.api.types.node import connection_parts
from graphql_api.api.types.webhook import Webhook, WebhookConnection
from graphql_api.store.webhooks import WEBHOOK_ORDERING, WebhookRepository

LIST_NAME = "webhooks"


@strawberry.type
class WebhookQueries:
    @strawberry.field
    async def webhooks(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> WebhookConnection:
        ctx = info.context
        principal = ctx.principal
        spec = page_spec(
            LIST_NAME,
            first=first,
            after=after,
            last=None,
            before=None,
            default_size=ctx.settings.default_page_size,
            max_size=ctx.settings.max_page_size,
        )
        db = ctx.services.db
        async with db.read() as conn:
            page = await WebhookRepository(conn).page(principal, spec)

        async def count() -> int:
            async with db.read() as conn:
                return await WebhookRepository(conn).count(principal)

        edges, page_info = connection_parts(page, WEBHOOK_ORDERING, LIST_NAME, Webhook.from_row)
        return WebhookConnection(edges=edges, page_info=page_info, _count=count)
