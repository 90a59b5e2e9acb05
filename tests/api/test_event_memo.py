"""graphql-core 3.3.2's per-event memo leak (api/event_executor.py): a subscription's executor
must not grow with the number of events it has delivered.

The subscription runs in process through the schema (not over a websocket, so every event goes
through graphql-core's per-event executor, as events of a shared group's executor do too).
What is counted is the memo of `collect_subfields` on the subscription's executor: entries,
each holding a FieldDetails list and its collected subfields.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_api.api.context import RequestContext
from graphql_api.api.event_executor import EventScopedMemoExecutor
from graphql_api.api.schema import build_schema, schema
from graphql_api.domain import events as ev
from graphql_api.services import Services
from tests.live import PROBE, create_session, gid, probe_delta

QUERY = """subscription($id: ID!) { sessionEvents(sessionId: $id) {
  __typename sessionId sequence ... on TextDelta { turnId text } } }"""


def recording(base: type) -> type:
    class Recording(base):  # type: ignore[misc, valid-type]
        """Remembers the subscription's executor (the one each event's executor is built from)."""

        subscription_executor: Any = None

        def build_per_event_executor(self, payload: Any) -> Any:
            type(self).subscription_executor = self
            return super().build_per_event_executor(payload)

    return Recording


class Events:
    """A subscription's results in a queue, probes skipped."""

    def __init__(self, results: AsyncIterator[Any]) -> None:
        self.results = results
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.probed = asyncio.Event()
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for result in self.results:
            assert not result.errors, result.errors
            if result.data["sessionEvents"].get("text") == PROBE:
                self.probed.set()
            else:
                self.queue.put_nowait(result.data["sessionEvents"])

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.results.aclose()


async def memo_sizes(
    services: Services, new_key: Any, executor_class: type, rounds: tuple[int, ...]
) -> list[int]:
    """The subscription executor's memo entries after each round of `rounds[i]` events."""
    key_id, secret = await new_key()
    session = await create_session(services.db, key_id)
    principal = await services.api_keys.authenticate(secret)
    context = RequestContext(services=services, principal_or_none=principal)
    subject = build_schema()
    subject.execution_context_class = recording(executor_class)
    results = await subject.subscribe(
        QUERY, variable_values={"id": gid("Session", session.id)}, context_value=context
    )
    events = Events(results)
    channel = ev.session_channel(session.id)
    try:
        for _ in range(100):
            await services.broker.publish(channel, probe_delta(session.id))
            try:
                await asyncio.wait_for(events.probed.wait(), 0.2)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the subscription never went live")
        sizes = []
        for n in rounds:
            for i in range(n):
                delta = ev.event(ev.TEXT_DELTA, session.id, 0, turn_id=str(key_id), text=f"t{i}")
                await services.broker.publish(channel, delta)
            got = [await asyncio.wait_for(events.queue.get(), 5) for _ in range(n)]
            assert [e["text"] for e in got] == [f"t{i}" for i in range(n)]
            executor = subject.execution_context_class.subscription_executor
            sizes.append(len(executor._relevant_sub_fields))
        return sizes
    finally:
        await events.close()


async def test_the_product_schema_uses_the_fixed_executor():
    assert issubclass(schema.execution_context_class, EventScopedMemoExecutor)


async def test_a_subscriptions_memo_does_not_grow_with_its_events(services, new_key):
    sizes = await memo_sizes(services, new_key, EventScopedMemoExecutor, (10, 200))
    assert sizes[1] == sizes[0], f"memo entries after 10 and 210 events: {sizes}"


async def test_graphql_core_still_shares_the_memo_between_events(services, new_key):
    """The upstream bug this project works around: if this fails, graphql-core gives each
    event's executor a memo of its own, and EventScopedMemoExecutor can go."""
    sizes = await memo_sizes(services, new_key, StrawberryGraphQLCoreExecutionContext, (10, 200))
    assert sizes[1] >= sizes[0] + 200, f"memo entries after 10 and 210 events: {sizes}"

