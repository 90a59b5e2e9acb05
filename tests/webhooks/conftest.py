"""Webhook fixtures: a database of their own per backend, an allowlisted app, a real receiver.

Webhook tests get their own (migrated) database, so no other test's deliverer can claim their
deliveries and no delivery of theirs lingers into another test. Deliverers are started by the
tests themselves (`deliverer()`), with short timings.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from graphql_api.app import create_app
from graphql_api.domain.webhook_delivery import DeliveryConfig, WebhookDeliverer
from graphql_api.domain.webhook_destinations import DestinationPolicy
from graphql_api.domain.webhook_signing import SecretBox
from graphql_api.services import Services
from graphql_api.store.database import Database
from graphql_api.store.migrate import upgrade_to_head
from graphql_api.store.webhooks import webhooks_table
from tests.conftest import GraphQLClient, create_pg_database, drop_pg_database, make_settings
from tests.webhooks.receiver import Receiver

#: What the test app allows webhooks to reach: the receiver, on loopback.
ALLOWED = "127.0.0.1,::1,localhost"
FAST = DeliveryConfig(
    max_attempts=5,
    backoff_base_seconds=0.3,
    backoff_max_seconds=1.0,
    request_timeout_seconds=2.0,
    claim_timeout_seconds=10.0,
    poll_interval_seconds=0.05,
    concurrency=4,
)


@pytest.fixture(scope="session")
async def webhook_database_url(database_url: str, tmp_path_factory: Any) -> AsyncIterator[str]:
    """A fresh database of the same backend as `database_url`, for the webhook tests alone."""
    if database_url.startswith("postgresql"):
        name, url = await create_pg_database()
        await upgrade_to_head(url)
        yield url
        await drop_pg_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('webhooks') / 'webhooks.db'}"
        await upgrade_to_head(url)
        yield url


@pytest.fixture(scope="session")
async def hook_services(webhook_database_url: str) -> AsyncIterator[Services]:
    """The app's services with the receiver allowlisted and no deliverer of their own."""
    services = Services.create(
        make_settings(
            webhook_database_url, webhook_allowed_hosts=ALLOWED, webhook_delivery_enabled=False
        )
    )
    yield services
    await services.close()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
async def hook_graphql(hook_services: Services) -> AsyncIterator[Callable[[str], GraphQLClient]]:
    app = create_app(services=hook_services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        yield lambda secret: GraphQLClient(http, secret)


@pytest.fixture
async def hook_key(hook_services: Services) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """A factory for API keys; their webhooks (and deliveries) are deleted after the test."""
    made: list[uuid.UUID] = []

    async def make(admin: bool = False) -> tuple[uuid.UUID, str]:
        created = await hook_services.api_keys.create(
            f"hooks-{uuid.uuid4().hex[:6]}", is_admin=admin
        )
        made.append(created.row["id"])
        return created.row["id"], created.secret

    yield make
    if made:
        async with hook_services.db.transaction() as conn:
            await conn.execute(
                delete(webhooks_table).where(webhooks_table.c.owner_key_id.in_(made))
            )


@pytest.fixture
async def deliverer(
    hook_services: Services,
) -> AsyncIterator[Callable[..., Awaitable[WebhookDeliverer]]]:
    """A factory for started deliverers on the webhook database; all stopped after the test."""
    started: list[WebhookDeliverer] = []

    async def make(
        *,
        allowed: str = ALLOWED,
        config: DeliveryConfig = FAST,
        instance_id: str | None = None,
        db: Database | None = None,
        secrets: SecretBox | None = None,
    ) -> WebhookDeliverer:
        worker = WebhookDeliverer(
            db or hook_services.db,
            instance_id=instance_id or f"test-{uuid.uuid4().hex[:6]}",
            policy=DestinationPolicy.from_setting(allowed),
            secrets=secrets or SecretBox(),
            config=config,
        )
        await worker.start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        await worker.stop()
