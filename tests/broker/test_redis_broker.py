"""RedisBroker against real Redis: one pub/sub connection per instance, confirmed subscribes,
fan-out across instances, and failing loudly (then recovering) when Redis goes away."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from graphql_api.broker import InProcessBroker
from graphql_api.broker.base import SubscriberOverflow
from graphql_api.broker.redis import RedisBroker
from graphql_api.domain.errors import BrokerUnavailable
from graphql_api.domain.events import control_channel
from tests.redis_server import RedisServer

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def prefix() -> str:
    return f"gapi-test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def brokers() -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    """Two instances' brokers sharing one Redis and one channel prefix."""
    shared = prefix()
    a, b = (
        RedisBroker(REDIS_URL, channel_prefix=shared),
        RedisBroker(REDIS_URL, channel_prefix=shared),
    )
    await a.start()
    await b.start()
    yield a, b
    await a.stop()
    await b.stop()


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[InProcessBroker | RedisBroker]:
    broker = (
        InProcessBroker()
        if request.param == "memory"
        else RedisBroker(REDIS_URL, channel_prefix=prefix())
    )
    await broker.start()
    yield broker
    await broker.stop()


async def next_event(subscription, timeout: float = 2.0) -> dict:
    return await asyncio.wait_for(subscription.get(), timeout)


async def eventually(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- the contract, both brokers


async def test_every_subscriber_gets_every_event_in_order(broker):
    first = await broker.subscribe("session:a", maxsize=100)
    second = await broker.subscribe("session:a", maxsize=100)
    other = await broker.subscribe("session:b", maxsize=100)
    for n in range(20):
        await broker.publish("session:a", {"type": "MessageAdded", "sequence": n})
    for subscription in (first, second):
        assert [(await next_event(subscription))["sequence"] for _ in range(20)] == list(range(20))
    assert other.pending == 0
    for subscription in (first, second, other):
        await subscription.close()
    assert broker.subscriber_count() == 0


async def test_a_stalled_subscriber_overflows_alone(broker):
    stalled = await broker.subscribe("session:c", maxsize=5)
    reader = await broker.subscribe("session:c", maxsize=5)
    received = []
    for n in range(50):
        await broker.publish("session:c", {"type": "MessageAdded", "sequence": n})
        received.append((await next_event(reader))["sequence"])
    assert received == list(range(50))
    with pytest.raises(SubscriberOverflow):
        await stalled.get()
    await stalled.close()
    await reader.close()


# ---------------------------------------------------------------- Redis specifics


async def test_local_subscribers_share_one_redis_subscription(brokers):
    a, _ = brokers
    channel = "session:shared"
    redis_name = a.channel_prefix + channel
    probe = aioredis.from_url(REDIS_URL)

    async def redis_subscribers() -> int:
        return dict(await probe.pubsub_numsub(redis_name))[redis_name.encode()]

    subscriptions = [await a.subscribe(channel) for _ in range(5)]
    assert await redis_subscribers() == 1 and a.channel_count() == 1
    for subscription in subscriptions[:-1]:
        await subscription.close()
    assert await redis_subscribers() == 1
    await subscriptions[-1].close()
    await eventually(lambda: _is(redis_subscribers, 0))
    assert a.channel_count() == 0
    await probe.aclose()


async def _is(read, expected) -> bool:
    return await read() == expected


async def test_subscribe_returns_only_once_redis_confirmed_it(brokers):
    """Published from another instance right after subscribe() returns: never lost."""
    a, b = brokers
    for n in range(30):
        subscription = await a.subscribe(f"session:confirm-{n}")
        await b.publish(f"session:confirm-{n}", {"type": "TurnStarted", "sequence": n})
        assert (await next_event(subscription))["sequence"] == n
        await subscription.close()


async def test_subscribe_waits_for_the_confirmation_of_a_slow_redis():
    server = RedisServer().start()
    broker = RedisBroker(server.url)
    await broker.start()
    admin = aioredis.from_url(server.url)
    try:
        await eventually(lambda: _answers(broker))
        await admin.execute_command("CLIENT", "PAUSE", "400", "ALL")
        started = time.monotonic()
        subscription = await broker.subscribe("session:slow")
        assert time.monotonic() - started >= 0.3
        await broker.publish("session:slow", {"type": "TurnStarted", "sequence": 1})
        assert (await next_event(subscription))["sequence"] == 1
        await subscription.close()
    finally:
        await admin.aclose()
        await broker.stop()
        server.stop()


async def test_events_cross_instances_on_any_channel_name(brokers):
    a, b = brokers
    names = [control_channel(uuid.uuid4()), "sessions:all", "owner:ünïcode with spaces"]
    subscriptions = [await b.subscribe(name) for name in names]
    for name in names:
        await a.publish(name, {"type": "interrupt", "channel": name})
    for name, subscription in zip(names, subscriptions, strict=True):
        assert (await next_event(subscription))["channel"] == name
        await subscription.close()


async def test_a_cancelled_subscribe_leaves_nothing_behind(brokers):
    a, b = brokers
    pending = asyncio.create_task(a.subscribe("session:cancelled"))
    await asyncio.sleep(0)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert a.subscriber_count() == 0
    subscription = await a.subscribe("session:cancelled")
    await b.publish("session:cancelled", {"type": "TurnStarted", "sequence": 1})
    assert (await next_event(subscription))["sequence"] == 1
    await subscription.close()


async def test_losing_redis_fails_every_subscription_then_the_broker_recovers():
    server = RedisServer().start()
    broker = RedisBroker(server.url, subscribe_timeout=0.5, health_check_interval=0.5)
    await broker.start()
    try:
        subscriptions = [await broker.subscribe(f"session:{n}") for n in range(3)]
        await broker.publish("session:0", {"type": "TurnStarted", "sequence": 1})
        assert (await next_event(subscriptions[0]))["sequence"] == 1

        server.stop()
        for subscription in subscriptions:
            with pytest.raises(BrokerUnavailable):
                await next_event(subscription, timeout=5)
            await subscription.close()
        assert broker.subscriber_count() == 0 and broker.channel_count() == 0
        with pytest.raises(BrokerUnavailable):
            await broker.subscribe("session:while-down")
        with pytest.raises(BrokerUnavailable):
            await broker.publish("session:0", {"type": "TurnStarted", "sequence": 2})
        with pytest.raises(BrokerUnavailable):
            await broker.ping()

        server.start()
        await eventually(lambda: _answers(broker), timeout=10)
        subscription = await broker.subscribe("session:0")
        await broker.publish("session:0", {"type": "TurnStarted", "sequence": 3})
        assert (await next_event(subscription))["sequence"] == 3
        await subscription.close()
    finally:
        await broker.stop()
        server.stop()


async def test_a_redis_that_stops_answering_is_detected_by_the_health_check():
    """CLIENT PAUSE keeps the TCP connection open but answers nothing, like a half-open link."""
    server = RedisServer().start()
    broker = RedisBroker(server.url, health_check_interval=0.2, subscribe_timeout=1)
    await broker.start()
    admin = aioredis.from_url(server.url)
    try:
        subscription = await broker.subscribe("session:paused")
        await admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await next_event(subscription, timeout=3)
        assert time.monotonic() - started < 1.2  # found by the health check, not the unpause
        await subscription.close()
        await eventually(lambda: _answers(broker), timeout=10)
    finally:
        await admin.aclose()
        await broker.stop()
        server.stop()


async def _answers(broker: RedisBroker) -> bool:
    try:
        await broker.ping()
    except Exception:  # noqa: BLE001
        return False
    return True
