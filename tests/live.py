"""Helpers for live (subscription) tests: rows in the database, events through a broker, and
gql websocket clients for both subprotocols.

No turn runs in these tests: they write what a turn would (messages at the next sequence, turn
and approval rows) and publish the events a runner would, so every assertion is about the
subscription side alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import insert

from graphql_api.api.ids import to_global_id
from graphql_api.domain import events as ev
from graphql_api.store.database import Database
from graphql_api.store.messages import MessageRepository
from graphql_api.store.models import Session, ToolApproval, Turn
from graphql_api.store.types import new_id, utcnow

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]

EVENTS = """
subscription Events($id: ID!, $after: Int) {
  sessionEvents(sessionId: $id, afterSequence: $after) {
    __typename sessionId sequence
    ... on MessageAdded { message { id sequence role content { ... on TextBlock { text } } } }
    ... on TextDelta { turnId text }
    ... on TurnStarted { turn { id status } }
    ... on TurnFinished { turn { id status result } }
    ... on ToolApprovalRequested { approval { id toolName status input turn { id } session { id } } }
    ... on SessionStatusChanged { status }
  }
}
"""

UPDATES = "subscription { sessionUpdates { id title status } }"


def channel_prefix() -> str:
    """Channels of one test run: other runs on the same Redis never see them."""
    return f"gapi-test-{uuid.uuid4().hex[:8]}:"


def gid(type_name: str, key: Any) -> str:
    return to_global_id(type_name, key)


# ---------------------------------------------------------------- rows a turn would write


async def create_session(db: Database, owner_key_id: uuid.UUID, title: str = "live") -> Any:
    now = utcnow()
    values = {
        "id": new_id(), "owner_key_id": owner_key_id, "title": title, "status": "IDLE",
        "options": {}, "last_sequence": 0, "total_turns": 0, "total_cost_usd": 0.0,
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    async with db.transaction() as conn:
        return (
            await conn.execute(
                insert(Session.__table__).values(**values).returning(*Session.__table__.c)
            )
        ).one()


async def create_turn(db: Database, session_id: uuid.UUID, status: str = "RUNNING") -> Any:
    values = {
        "id": new_id(),
        "session_id": session_id,
        "status": status,
        "prompt": "hi",
        "created_at": utcnow(),
    }
    async with db.transaction() as conn:
        return (
            await conn.execute(insert(Turn.__table__).values(**values).returning(*Turn.__table__.c))
        ).one()


async def create_approval(db: Database, session_id: uuid.UUID, turn_id: uuid.UUID) -> Any:
    values = {
        "id": new_id(), "session_id": session_id, "turn_id": turn_id, "tool_name": "Bash",
        "input": {"command": "ls"}, "status": "PENDING", "created_at": utcnow(),
    }  # fmt: skip
    table = ToolApproval.__table__
    async with db.transaction() as conn:
        return (await conn.execute(insert(table).values(**values).returning(*table.c))).one()


async def append_message(
    db: Database, session_id: uuid.UUID, text: str, turn_id: Any = None
) -> Any:
    async with db.transaction() as conn:
        return await MessageRepository(conn).append(
            session_id, role="ASSISTANT", content=[{"type": "text", "text": text}], turn_id=turn_id
        )


def message_event(row: Any) -> dict[str, Any]:
    return ev.event(ev.MESSAGE_ADDED, row.session_id, row.sequence, message=ev.row_to_json(row))


async def add_message(db: Database, broker: Any, session_id: uuid.UUID, text: str) -> Any:
    """Persist, then publish: what the runner does for every message."""
    row = await append_message(db, session_id, text)
    await broker.publish(ev.session_channel(session_id), message_event(row))
    return row


# ---------------------------------------------------------------- websocket clients


@asynccontextmanager
async def ws_client(url: str, secret: str, protocol: str) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(
        url=url,
        init_payload={"apiKey": secret},
        subprotocols=[protocol],
        connect_args={"max_size": None},
    )
    async with Client(transport=transport) as session:
        yield session


PROBE = "<probe>"


def is_probe(item: dict[str, Any]) -> bool:
    return item.get("text") == PROBE or item.get("title") == PROBE


class Stream:
    """One subscription's results, pumped into a queue so reads can time out without cancelling
    the subscription; probe events (see `wait_until_live`) are left out."""

    def __init__(self, session: AsyncClientSession, query: str, variables: dict[str, Any]) -> None:
        self._results = session.subscribe(GraphQLRequest(query, variable_values=variables))
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.probed = asyncio.Event()
        self._pump = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for data in self._results:
                item = next(iter(data.values()))
                if is_probe(item):
                    self.probed.set()
                else:
                    self._queue.put_nowait(item)
            self._queue.put_nowait(StopAsyncIteration())
        except Exception as error:  # noqa: BLE001 - handed to the reader
            self._queue.put_nowait(error)

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next result's root field (its `sessionEvents` or `sessionUpdates`); raises what
        ended the subscription (gql's TransportQueryError carries the GraphQL errors)."""
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    async def take(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return [await self.next(timeout) for _ in range(n)]

    async def error(self, timeout: float = 5.0) -> dict[str, Any]:
        """The GraphQL error that ends the subscription (events before it are skipped)."""
        while True:
            try:
                await self.next(timeout)
            except TransportQueryError as failure:
                assert failure.errors, failure
                return failure.errors[0]

    def pending(self) -> int:
        return self._queue.qsize()

    async def close(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(BaseException):
            await self._pump
        with contextlib.suppress(BaseException):
            await self._results.aclose()


async def wait_until_live(stream: Stream, publish_probe: Any, timeout: float = 10.0) -> None:
    """A subscription starts on the server after `subscribe` returns here: publish probes until
    one comes back, so the events a test publishes next cannot race the start."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not stream.probed.is_set():
        assert asyncio.get_running_loop().time() < deadline, "the subscription never went live"
        await publish_probe()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stream.probed.wait(), 0.2)


def probe_delta(session_id: Any) -> dict[str, Any]:
    # A sequence no client has reached: a delta older than what a client has is skipped.
    return ev.event(ev.TEXT_DELTA, session_id, 2**31 - 1, turn_id=str(uuid.uuid4()), text=PROBE)


async def live_events(
    session: AsyncClientSession, broker: Any, session_id: Any, after: int | None = None
) -> Stream:
    """A started `sessionEvents` subscription."""
    stream = events_of(session, session_id, after)

    async def probe() -> None:
        await broker.publish(ev.session_channel(session_id), probe_delta(session_id))

    await wait_until_live(stream, probe)
    return stream


def events_of(session: AsyncClientSession, session_id: Any, after: int | None = None) -> Stream:
    return Stream(session, EVENTS, {"id": gid("Session", session_id), "after": after})
