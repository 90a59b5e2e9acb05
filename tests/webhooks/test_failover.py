"""Deliveries survive their instance: any other instance's deliverer sends them, at least once."""

from __future__ import annotations

import time
from dataclasses import replace

from graphql_api.domain.webhook_delivery import WebhookDeliverer
from graphql_api.domain.webhook_destinations import DestinationPolicy
from graphql_api.domain.webhook_signing import SecretBox
from graphql_api.store.database import Database
from graphql_api.store.types import utcnow
from graphql_api.store.webhook_outbox import AttemptRecord, record_attempt
from tests.webhooks.conftest import FAST
from tests.webhooks.support import (
    create_webhook,
    deliveries,
    finish_turn,
    new_session,
    raw_id,
    settled,
)


async def test_an_instance_killed_after_enqueue_leaves_the_delivery_to_another(
    hook_services, hook_graphql, hook_key, receiver, deliverer, webhook_database_url
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path()
    hook, _ = await create_webhook(client, receiver.url(path))
    # This instance queues the event and dies before its deliverer ever runs.
    await finish_turn(hook_services, owner, session)
    [pending] = await deliveries(client, hook)
    assert (pending["status"], pending["attempts"]) == ("PENDING", 0)

    other_instance = Database(webhook_database_url)
    try:
        await deliverer(db=other_instance, instance_id="instance-b")
        [delivery] = await settled(client, hook)
    finally:
        await other_instance.dispose()
    assert delivery["status"] == "DELIVERED"
    assert delivery["id"] == pending["id"]
    assert len(receiver.at(path)) == 1


async def test_a_claimed_but_abandoned_delivery_is_sent_after_the_claim_times_out(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path()
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)

    # Instance A claims the delivery, then dies before sending it.
    lease = 1.0
    dead = WebhookDeliverer(
        hook_services.db,
        instance_id="dead",
        policy=DestinationPolicy(),
        secrets=SecretBox(),
        config=replace(FAST, claim_timeout_seconds=lease),
    )
    [pending] = await deliveries(client, hook)
    claimed_at = time.monotonic()
    [claim] = [c for c in await dead.claim(10) if c.id == raw_id(pending["id"])]
    [held] = await deliveries(client, hook)
    assert (held["status"], held["attempts"]) == ("PENDING", 1)
    assert held["nextAttemptAt"] is not None  # when the claim runs out

    await deliverer(instance_id="instance-b")
    [delivery] = await settled(client, hook)
    [request] = receiver.at(path)
    assert request.at - claimed_at >= lease  # not before A's claim ran out
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 2  # A's abandoned attempt counts
    assert [a["attempt"] for a in delivery["attemptHistory"]] == [2]

    # A comes back from the dead with a result: its claim is gone, nothing changes.
    late = AttemptRecord("FAILED", utcnow(), 5, 500, "HTTP 500")
    async with hook_services.db.transaction() as conn:
        assert not await record_attempt(conn, claim, late, instance_id="dead", now=utcnow())
    assert (await deliveries(client, hook))[0]["status"] == "DELIVERED"


async def test_two_instances_share_the_work_without_sending_twice(
    hook_services, hook_graphql, hook_key, receiver, deliverer, webhook_database_url
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path()
    hook, _ = await create_webhook(client, receiver.url(path))
    for _ in range(12):
        await finish_turn(hook_services, owner, session)

    other_instance = Database(webhook_database_url)
    try:
        await deliverer(instance_id="instance-a")
        await deliverer(db=other_instance, instance_id="instance-b")
        found = await settled(client, hook, count=12)
    finally:
        await other_instance.dispose()
    assert {d["status"] for d in found} == {"DELIVERED"}
    ids = [r.headers["webhook-id"] for r in await receiver.wait_for(path, 12)]
    assert len(ids) == len(set(ids)) == 12
