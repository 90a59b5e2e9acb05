"""The webhook child lists' DataLoaders: deliveries of many webhooks in one statement.

Kept apart from `api/loaders.py` and built on first use, once per request, on the context.
(Webhooks and deliveries by id are in `Loaders`, beside the other node loaders.)
"""

from __future__ import annotations

from typing import Any

from graphql_api.api.loaders import keyed_loader, paged_loader
from graphql_api.domain.principal import Principal
from graphql_api.store.database import Database
from graphql_api.store.webhooks import WebhookDeliveryRepository


class WebhookLoaders:
    def __init__(self, db: Database, principal: Principal) -> None:
        p = principal
        self.deliveries = paged_loader(
            db, lambda conn, ids, spec: WebhookDeliveryRepository(conn).pages_by_webhook(p, ids, spec)
        )
        self.delivery_count = keyed_loader(
            db, lambda conn, ids: WebhookDeliveryRepository(conn).counts_by_webhook(p, ids), default=0
        )
        self.attempts = keyed_loader(
            db,
            lambda conn, ids: WebhookDeliveryRepository(conn).attempts_by_delivery(p, ids),
            default=[],
        )


def webhook_loaders(context: Any) -> WebhookLoaders:
    """This request's webhook loaders, made on first use and kept on the request context."""
    loaders = getattr(context, "_webhook_loaders", None)
    if loaders is None:
        loaders = WebhookLoaders(context.services.db, context.principal)
        context._webhook_loaders = loaders
    return loaders
