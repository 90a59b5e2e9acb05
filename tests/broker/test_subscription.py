"""A subscriber's bounded queue: deltas give way first, persisted events are never dropped silently."""

from __future__ import annotations

import asyncio

import pytest

from graphql_api.broker.base import MAX_MERGED_DELTA_CHARS, SubscriberOverflow, Subscription
from graphql_api.domain.errors import BrokerUnavailable


def message(n: int) -> dict:
    return {"type": "MessageAdded", "session_id": "s", "sequence": n, "message": {"sequence": n}}


def delta(text: str, turn: str = "t1", sequence: int = 0) -> dict:
    return {
        "type": "TextDelta",
        "session_id": "s",
        "sequence": sequence,
        "turn_id": turn,
        "text": text,
    }


async def take(subscription: Subscription, n: int) -> list[dict]:
    return [await asyncio.wait_for(subscription.get(), 1) for _ in range(n)]


async def test_events_arrive_in_order_while_there_is_room():
    sub = Subscription("c", maxsize=3)
    for n in (1, 2, 3):
        sub.deliver(message(n))
    assert [e["sequence"] for e in await take(sub, 3)] == [1, 2, 3]


async def test_a_full_queue_merges_deltas_of_the_same_turn():
    sub = Subscription("c", maxsize=2)
    sub.deliver(message(1))
    sub.deliver(delta("Hel"))
    sub.deliver(delta("lo", sequence=1))
    sub.deliver(delta(" world", sequence=1))
    events = await take(sub, 2)
    assert events[1]["text"] == "Hello world"
    assert sub.dropped == 0 and sub.pending == 0


async def test_a_full_queue_drops_deltas_it_cannot_merge():
    sub = Subscription("c", maxsize=2)
    sub.deliver(message(1))
    sub.deliver(message(2))
    sub.deliver(delta("lost"))
    assert sub.dropped == 1
    assert [e["sequence"] for e in await take(sub, 2)] == [1, 2]


async def test_merged_deltas_stop_growing_at_the_cap():
    sub = Subscription("c", maxsize=1)
    sub.deliver(delta("x" * MAX_MERGED_DELTA_CHARS))
    sub.deliver(delta("y"))
    assert sub.dropped == 1
    assert len((await take(sub, 1))[0]["text"]) == MAX_MERGED_DELTA_CHARS


async def test_a_persisted_event_evicts_the_oldest_delta():
    sub = Subscription("c", maxsize=3)
    sub.deliver(delta("a", turn="t1"))
    sub.deliver(message(1))
    sub.deliver(delta("b", turn="t2"))
    sub.deliver(message(2))
    events = await take(sub, 3)
    assert [e["type"] for e in events] == ["MessageAdded", "TextDelta", "MessageAdded"]
    assert events[1]["text"] == "b" and sub.dropped == 1


async def test_overflow_of_persisted_events_fails_at_once_and_keeps_nothing():
    sub = Subscription("c", maxsize=2)
    sub.deliver(message(1))
    sub.deliver(message(2))
    sub.deliver(message(3))
    assert sub.overflowed and sub.pending == 0
    with pytest.raises(SubscriberOverflow):
        await sub.get()
    sub.deliver(message(4))  # ignored from now on: memory stays bounded
    assert sub.pending == 0


async def test_merging_never_changes_an_event_another_subscriber_holds():
    shared = delta("a")
    sub = Subscription("c", maxsize=1)
    sub.deliver(shared)
    sub.deliver(delta("b"))
    assert shared["text"] == "a"


async def test_fail_wakes_a_waiting_reader():
    sub = Subscription("c", maxsize=5)
    reader = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.fail(BrokerUnavailable("gone"))
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(reader, 1)


async def test_close_runs_the_brokers_cleanup_once():
    released = []

    async def on_close(s: Subscription) -> None:
        released.append(s)

    sub = Subscription("c", maxsize=1, on_close=on_close)
    async with sub:
        sub.deliver(message(1))
    await sub.close()
    assert released == [sub] and sub.closed and sub.pending == 0
