"""The webhook child lists' DataLoaders: deliveries of many webhooks in one statement.

Kept apart from `api/loaders.py` and built on first use, once per request, on the context.
(Webhooks and deliveries by id are in `Loaders`, beside the other node loaders.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.principal import Principal
from graphql_api.store.database import Database
from graphql_api.store.keyset import Page, PageSpec
from graphql_api.store.webhooks import WebhookDeliveryRepository

PageKey = tuple[Any, PageSpec]


class WebhookLoaders:
    def __init__(self, db: Database, principal: Principal) -> None:
        self.db = db
        p = principal
        self.deliveries = self._pages(
            lambda conn, ids, spec: WebhookDeliveryRepository(conn).pages_by_webhook(p, ids, spec)
        )
        self.delivery_count = self._by_key(
            lambda conn, ids: WebhookDeliveryRepository(conn).counts_by_webhook(p, ids), default=0
        )
        self.attempts = self._by_key(
            lambda conn, ids: WebhookDeliveryRepository(conn).attempts_by_delivery(p, ids),
            default=[],
        )

    def _by_key(
        self, fetch: Callable[[AsyncConnection, list[Any]], Awaitable[dict[Any, Any]]], default: Any
    ) -> DataLoader[Any, Any]:
        db = self.db

        async def batch(keys: Sequence[Any]) -> list[Any]:
            async with db.read() as conn:
                found = await fetch(conn, list(dict.fromkeys(keys)))
            return [found.get(key, default) for key in keys]

        return DataLoader(batch_load_fn=batch)

    def _pages(
        self, fetch: Callable[[AsyncConnection, list[Any], PageSpec], Awaitable[dict[Any, Page]]]
    ) -> DataLoader[PageKey, Page]:
        """Keys are (webhook id, page spec); webhooks asking for the same page share a statement."""
        db = self.db

        async def batch(keys: Sequence[PageKey]) -> list[Page]:
            by_spec: dict[PageSpec, list[Any]] = defaultdict(list)
            for parent, spec in keys:
                by_spec[spec].append(parent)
            pages: dict[PageKey, Page] = {}
            async with db.read() as conn:
                for spec, parents in by_spec.items():
                    found = await fetch(conn, list(dict.fromkeys(parents)), spec)
                    pages.update({(parent, spec): page for parent, page in found.items()})
            return [pages.get(key, Page()) for key in keys]

        return DataLoader(batch_load_fn=batch)


def webhook_loaders(context: Any) -> WebhookLoaders:
    """This request's webhook loaders, made on first use and kept on the request context."""
    loaders = getattr(context, "_webhook_loaders", None)
    if loaders is None:
        loaders = WebhookLoaders(context.services.db, context.principal)
        context._webhook_loaders = loaders
    return loaders
