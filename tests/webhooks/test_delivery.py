"""An enqueued event reaches the receiver once, signed; failures are retried or failed as they should."""

from __future__ import annotations

from dataclasses import replace

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from graphql_api.api.ids import to_global_id
from graphql_api.domain.webhook_events import TOOL_APPROVAL_REQUESTED, TURN_FINISHED
from graphql_api.store.webhooks import enqueue_webhook_deliveries
from tests.webhooks.conftest import FAST
from tests.webhooks.receiver import Reply
from tests.webhooks.support import (
    create_webhook,
    deliveries,
    finish_turn,
    new_session,
    settled,
)


async def test_turn_finished_is_delivered_once_and_verifiably_signed(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    _, other_secret = await hook_key()
    client, other = hook_graphql(secret), hook_graphql(other_secret)
    session, other_session = (
        await new_session(hook_services, owner),
        await new_session(hook_services, owner),
    )

    path = receiver.new_path()
    hook, signing_secret = await create_webhook(client, receiver.url(path))
    # None of these may get the event: another event type, another session, another key.
    quiet_path = receiver.new_path()
    quiet = [
        await create_webhook(client, receiver.url(quiet_path), (TOOL_APPROVAL_REQUESTED,)),
        await create_webhook(client, receiver.url(quiet_path), session_id=other_session),
        await create_webhook(other, receiver.url(quiet_path)),
    ]

    queued = await finish_turn(hook_services, owner, session)
    assert queued["queued"] == 1
    await deliverer()

    [delivery] = await settled(client, hook)
    [request] = receiver.at(path)
    body = StandardWebhook(signing_secret).verify(request.body, request.headers)
    assert body == {
        "type": "TURN_FINISHED",
        "timestamp": body["timestamp"],
        "data": queued["payload"],
    }
    assert set(queued["payload"]) >= {
        "turn_id",
        "session_id",
        "status",
        "cost_usd",
        "usage",
        "result",
    }
    assert queued["payload"]["session_id"] == str(session)
    assert request.headers["content-type"] == "application/json"
    # webhook-id is the delivery's own id: the same on every retry, for receivers to dedupe.
    assert to_global_id("WebhookDelivery", request.headers["webhook-id"]) == delivery["id"]
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 1
    assert delivery["lastResponseStatus"] == 200
    assert delivery["nextAttemptAt"] is None
    assert delivery["payload"] == queued["payload"]
    assert [a["outcome"] for a in delivery["attemptHistory"]] == ["DELIVERED"]

    # A wrong secret does not verify.
    with pytest.raises(Exception, match="signature"):
        StandardWebhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)
    assert receiver.at(quiet_path) == []
    assert await deliveries(client, quiet[0][0]) == []
    assert await deliveries(client, quiet[1][0]) == []
    assert await deliveries(other, quiet[2][0]) == []
    assert len(receiver.at(path)) == 1


async def test_a_rolled_back_change_queues_nothing(hook_services, hook_graphql, hook_key, receiver):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    hook, _ = await create_webhook(client, receiver.url(receiver.new_path()))

    class TurnFailedToSave(Exception):
        pass

    with pytest.raises(TurnFailedToSave):
        async with hook_services.db.transaction() as conn:
            queued = await enqueue_webhook_deliveries(
                conn,
                owner_key_id=owner,
                session_id=session,
                event_type=TURN_FINISHED,
                payload={"turn_id": "t"},
            )
            assert queued == 1
            raise TurnFailedToSave
    assert await deliveries(client, hook) == []


async def test_server_errors_are_retried_with_backoff_until_delivered(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path(Reply(500), Reply(500))
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)
    await deliverer()

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 3
    assert delivery["lastResponseStatus"] == 200
    assert [
        (a["attempt"], a["responseStatus"], a["outcome"]) for a in delivery["attemptHistory"]
    ] == [
        (1, 500, "RETRY"),
        (2, 500, "RETRY"),
        (3, 200, "DELIVERED"),
    ]
    first, second, third = receiver.at(path)
    assert (
        first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    )
    assert first.body == second.body == third.body
    # Backoff: retry n waits at least half of base * 2**(n-1) (the rest is jitter).
    assert second.at - first.at >= FAST.backoff_base_seconds / 2
    assert third.at - second.at >= FAST.backoff_base_seconds


async def test_client_errors_fail_at_once(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path(Reply(404))
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)
    await deliverer()

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "FAILED"
    assert delivery["attempts"] == 1
    assert delivery["lastResponseStatus"] == 404
    assert delivery["nextAttemptAt"] is None
    assert delivery["finishedAt"] is not None
    assert len(receiver.at(path)) == 1


async def test_too_many_requests_is_retried(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path(Reply(429), Reply(429, {"retry-after": "1"}))
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)
    await deliverer()

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "DELIVERED"
    assert [a["responseStatus"] for a in delivery["attemptHistory"]] == [429, 429, 200]
    _, second, third = receiver.at(path)
    assert third.at - second.at >= 1.0  # Retry-After is honoured


async def test_timeouts_are_retried(hook_services, hook_graphql, hook_key, receiver, deliverer):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path(Reply(200, delay=3.0))
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)
    await deliverer(config=replace(FAST, request_timeout_seconds=0.5))

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 2
    timed_out, delivered = delivery["attemptHistory"]
    assert (timed_out["outcome"], timed_out["responseStatus"]) == ("RETRY", None)
    assert "timed out" in timed_out["error"]
    assert delivered["responseStatus"] == 200


async def test_retries_end_in_failed_after_the_last_attempt(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    path = receiver.new_path(Reply(503), Reply(503), Reply(503))
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)
    await deliverer(config=replace(FAST, max_attempts=2))

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "FAILED"
    assert delivery["attempts"] == 2
    assert delivery["lastResponseStatus"] == 503
    assert "gave up after 2 attempts" in delivery["lastError"]
    assert len(receiver.at(path)) == 2


async def test_redirects_are_not_followed(
    hook_services, hook_graphql, hook_key, receiver, deliverer
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    elsewhere = receiver.new_path()
    path = receiver.new_path(Reply(302, {"location": receiver.url(elsewhere)}))
    hook, _ = await create_webhook(client, receiver.url(path))
    await finish_turn(hook_services, owner, session)
    await deliverer()

    [delivery] = await settled(client, hook)
    assert delivery["status"] == "FAILED"
    assert delivery["lastResponseStatus"] == 302
    assert "redirects are not followed" in delivery["lastError"]
    assert receiver.at(elsewhere) == []
