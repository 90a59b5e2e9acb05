"""End to end in one real instance: a turn the runner finishes and an archived session reach
the receiver through the app's own deliverer (registered by Services.create)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from graphql_api.app import create_app
from graphql_api.services import Services
from tests.agent.helpers import create_session, settle
from tests.conftest import GraphQLClient, make_settings
from tests.webhooks.conftest import ALLOWED
from tests.webhooks.support import create_webhook, raw_id, settled

ARCHIVE = """mutation($id: ID!) { archiveSession(input: { id: $id }) { session { status } } }"""


@pytest.fixture
async def instance(webhook_database_url: str) -> AsyncIterator[Services]:
    """A whole app instance with its workers running: turn runner and webhook deliverer."""
    services = Services.create(
        make_settings(
            webhook_database_url,
            webhook_allowed_hosts=ALLOWED,
            webhook_poll_interval_seconds=0.05,
        )
    )
    await services.start()
    yield services
    await services.close()


async def test_turn_finished_and_session_archived_are_delivered(instance, hook_key, receiver):
    _, secret = await hook_key()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services=instance)), base_url="http://test"
    ) as http:
        client = GraphQLClient(http, secret)
        path = receiver.new_path()
        hook, signing_secret = await create_webhook(
            client, receiver.url(path), ("TURN_FINISHED", "SESSION_ARCHIVED")
        )
        session = await create_session(client, title="hooked", prompt="my name is Ada")
        done = await settle(client, session)
        [turn] = [e["node"] for e in done["turns"]["edges"]]
        await client.data(ARCHIVE, {"id": session})
        found = await settled(client, hook, count=2)

    assert {d["status"] for d in found} == {"DELIVERED"}
    bodies = [
        StandardWebhook(signing_secret).verify(r.body, r.headers)
        for r in await receiver.wait_for(path, 2)
    ]
    by_type = {body["type"]: body["data"] for body in bodies}
    assert set(by_type) == {"TURN_FINISHED", "SESSION_ARCHIVED"}
    finished = by_type["TURN_FINISHED"]
    assert finished["turn_id"] == str(raw_id(turn["id"]))
    assert finished["session_id"] == str(raw_id(session))
    assert finished["status"] == "COMPLETED"
    assert finished["cost_usd"] == turn["costUsd"]
    assert finished["result"] == turn["result"]
    assert by_type["SESSION_ARCHIVED"]["session_id"] == str(raw_id(session))
