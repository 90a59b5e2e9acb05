"""What the webhook tests share: GraphQL documents and small steps written in product words."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from sqlalchemy import select

from graphql_api.api.ids import from_global_id, to_global_id
from graphql_api.domain.webhook_events import TURN_FINISHED, turn_finished_payload
from graphql_api.services import Services
from graphql_api.store.seed import insert_sessions
from graphql_api.store.turns import turns_table
from graphql_api.store.webhooks import enqueue_webhook_deliveries
from tests.conftest import GraphQLClient

CREATE = """mutation($input: CreateWebhookInput!) { createWebhook(input: $input) {
  secret webhook { id url events createdAt session { id } } } }"""

DELETE = """mutation($id: ID!) { deleteWebhook(input: { id: $id }) { deletedId } }"""

DELIVERY_FIELDS = """id eventType payload status attempts lastResponseStatus nextAttemptAt
  lastError createdAt finishedAt webhook { id }
  attemptHistory { attempt responseStatus error outcome durationMs startedAt }"""

DELIVERIES = (
    """query($id: ID!) { node(id: $id) { ... on Webhook {
  deliveries(first: 50) { totalCount edges { node { """
    + DELIVERY_FIELDS
    + """ } } } } } }"""
)


async def create_webhook(
    client: GraphQLClient,
    url: str,
    events: tuple[str, ...] = (TURN_FINISHED,),
    session_id: UUID | None = None,
) -> tuple[str, str]:
    """(webhook global id, signing secret)."""
    variables: dict[str, Any] = {"url": url, "events": list(events)}
    if session_id is not None:
        variables["sessionId"] = to_global_id("Session", session_id)
    created = (await client.data(CREATE, {"input": variables}))["createWebhook"]
    return created["webhook"]["id"], created["secret"]


async def deliveries(client: GraphQLClient, webhook_gid: str) -> list[dict[str, Any]]:
    node = (await client.data(DELIVERIES, {"id": webhook_gid}))["node"]
    return [edge["node"] for edge in node["deliveries"]["edges"]]


async def settled(client: GraphQLClient, webhook_gid: str, count: int = 1) -> list[dict[str, Any]]:
    """The webhook's deliveries once `count` of them are DELIVERED or FAILED (bounded wait)."""

    async def check() -> list[dict[str, Any]] | None:
        found = await deliveries(client, webhook_gid)
        final = [d for d in found if d["status"] != "PENDING"]
        return found if len(final) >= count else None

    return await wait_until(check)


async def new_session(services: Services, owner: UUID) -> UUID:
    return (await insert_sessions(services.db, owner, 1, 2, fork_every=0))[0]


async def finish_turn(services: Services, owner: UUID, session_id: UUID) -> dict[str, Any]:
    """What the turn runner does when a turn finishes: enqueue in the same transaction."""
    async with services.db.transaction() as conn:
        turn = (
            await conn.execute(select(turns_table).where(turns_table.c.session_id == session_id))
        ).first()
        payload = turn_finished_payload(turn)
        queued = await enqueue_webhook_deliveries(
            conn,
            owner_key_id=owner,
            session_id=session_id,
            event_type=TURN_FINISHED,
            payload=payload,
        )
    return {"queued": queued, "payload": payload}


def raw_id(global_id: str) -> UUID:
    return from_global_id(global_id)[1]


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
