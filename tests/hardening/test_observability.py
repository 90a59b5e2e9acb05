"""Observability: /metrics in the Prometheus text format whose counters, histograms and gauges
move with traffic, and one JSON log line per GraphQL operation, without secrets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, insert

from graphql_api.observability.metrics import MAX_OPERATION_NAMES, ServerMetrics
from graphql_api.store.models import Session, Turn
from graphql_api.store.types import new_id, utcnow
from tests.hardening.conftest import acknowledged, receive, send
from tests.servers import ServerProcess, running_server

PROBE = "query MetricsProbe { viewer { sessionCount } }"
TOO_DEEP = "query TooDeep { sessions { edges { node { " + "parent { " * 14 + "id" + " }" * 18


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels (parsing fails on a malformed scrape)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient) -> dict[Any, float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_parse_and_move_with_traffic(app_with, new_key):
    app = await app_with()
    _, secret = await new_key()
    client = app.client(secret)
    before = await scrape(app.http)
    for _ in range(3):
        await client.data(PROBE)
    for _ in range(2):
        await client.error(TOO_DEEP)
    after = await scrape(app.http)

    ok = {"type": "query", "operation": "MetricsProbe", "outcome": "ok"}
    assert (
        value(after, "graphql_operations_total", **ok)
        - value(before, "graphql_operations_total", **ok)
        == 3
    )
    refused = {"type": "query", "operation": "TooDeep", "outcome": "QUERY_TOO_COMPLEX"}
    assert value(after, "graphql_operations_total", **refused) == 2
    timed = {"type": "query", "operation": "MetricsProbe"}
    count = value(after, "graphql_operation_duration_seconds_count", **timed)
    assert count - value(before, "graphql_operation_duration_seconds_count", **timed) == 3
    assert value(after, "graphql_operation_duration_seconds_sum", **timed) > 0
    assert value(after, "graphql_operation_duration_seconds_bucket", **timed, le="+Inf") == count
    for gauge in (
        "agent_turns_running", "agent_turns_queued", "graphql_websockets_open",
        "graphql_subscriptions_active", "database_pool_connections_in_use", "database_pool_size",
    ):  # fmt: skip
        assert (gauge, frozenset()) in after, gauge
    assert ("broker_delivery_lag_seconds_count", frozenset()) in after


async def test_queued_turns_gauge_counts_the_queue(app_with, new_key):
    app = await app_with()
    key_id, _ = await new_key()
    now = utcnow()
    session_id = new_id()
    db = app.services.db
    async with db.transaction() as conn:
        # A RUNNING session: no runner claims its queued turns while the test looks.
        await conn.execute(insert(Session.__table__).values(
            id=session_id, owner_key_id=key_id, title="queue", status="RUNNING", options={},
            last_sequence=0, total_turns=0, total_cost_usd=0.0, created_at=now, updated_at=now,
        ))  # fmt: skip
    try:
        before = value(await scrape(app.http), "agent_turns_queued")
        async with db.transaction() as conn:
            for prompt in ("one", "two"):
                await conn.execute(insert(Turn.__table__).values(
                    id=new_id(), session_id=session_id, status="QUEUED", prompt=prompt,
                    created_at=utcnow(),
                ))  # fmt: skip
        assert value(await scrape(app.http), "agent_turns_queued") == before + 2
    finally:
        async with db.transaction() as conn:
            await conn.execute(
                delete(Turn.__table__).where(Turn.__table__.c.session_id == session_id)
            )
            await conn.execute(
                delete(Session.__table__).where(Session.__table__.c.id == session_id)
            )


async def test_metrics_can_be_switched_off(app_with):
    app = await app_with(metrics_enabled=False)
    assert (await app.http.get("/metrics")).status_code == 404


def test_client_chosen_operation_names_cannot_grow_the_series_without_bound():
    metrics = ServerMetrics()
    for i in range(MAX_OPERATION_NAMES + 50):
        metrics.observe_operation("query", f"Op{i}", "ok", 0.001)
    labels = {s.labels["operation"] for s in metrics.operations.collect()[0].samples}
    assert len(labels) == MAX_OPERATION_NAMES + 1
    assert "other" in labels and "Op0" in labels
    assert metrics.operation_label("Op0") == "Op0"  # known names keep their label
    assert metrics.operation_label("not a name!") == "other"
    assert metrics.operation_label(None) == "anonymous"


# ----------------------------------------------------------------- against a real process


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: Any) -> Iterator[ServerProcess]:
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": "", "AGENT_BACKEND": "demo",
        "LOG_LEVEL": "INFO", "LOG_FORMAT": "json",
        "WORKSPACE_ROOT": str(tmp_path_factory.mktemp("observability-workspaces")),
    }  # fmt: skip
    with running_server(env) as server:
        yield server


def log_lines(server: ServerProcess) -> list[dict[str, Any]]:
    lines = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_each_operation_logs_one_json_line_without_the_secret(server, new_key):
    key_id, secret = await new_key()
    request_id = f"req-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": "query LogProbe { viewer { sessionCount } }",
                "operationName": "LogProbe",
            },
            headers={"Authorization": f"Bearer {secret}", "X-Request-Id": request_id},
        )
        assert response.status_code == 200 and "errors" not in response.json()
        assert response.headers["x-request-id"] == request_id
        anonymous = await http.post(
            "/graphql", json={"query": "query Nobody { viewer { sessionCount } }"}
        )
        anonymous_id = anonymous.headers["x-request-id"]
    await asyncio.sleep(0.2)
    lines = log_lines(server)
    [line] = [entry for entry in lines if entry.get("requestId") == request_id]
    assert line["logger"] == "graphql_api.operations" and line["level"] == "INFO"
    assert line["keyId"] == str(key_id)
    assert line["operationName"] == "LogProbe" and line["operationType"] == "query"
    assert line["outcome"] == "ok" and line["errorCodes"] == []
    assert isinstance(line["durationMs"], float) and line["durationMs"] >= 0
    assert "time" in line and line["message"].startswith("query LogProbe ok")
    [failed] = [entry for entry in lines if entry.get("requestId") == anonymous_id]
    assert failed["keyId"] is None and failed["outcome"] == "UNAUTHENTICATED"
    assert secret not in server.log()


async def test_websocket_subscription_and_delivery_lag_metrics(server, new_key):
    _, secret = await new_key()
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        created = await http.post("/graphql", headers=headers, json={
            "query": "mutation { createSession(input: {title: \"watched\"}) { session { id } } }",
        })  # fmt: skip
        session_id = created.json()["data"]["createSession"]["session"]["id"]
        before = await scrape(http)
        ws = await acknowledged(server, secret)
        try:
            await send(ws, {"id": "1", "type": "subscribe", "payload": {
                "query": "subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename } }",
                "variables": {"id": session_id},
            }})  # fmt: skip
            during = await wait_for_value(http, "graphql_subscriptions_active", 1)
            assert value(during, "graphql_websockets_open") == 1
            sent = await http.post("/graphql", headers=headers, json={
                "query": "mutation($id: ID!) { sendMessage(input: {sessionId: $id, prompt: \"hi\", wait: true}) { turn { status } } }",
                "variables": {"id": session_id},
            })  # fmt: skip
            assert sent.json()["data"]["sendMessage"]["turn"]["status"] == "COMPLETED", sent.text
            kinds = set()
            while "TurnFinished" not in kinds:
                message = await receive(ws)
                kinds.add(message["payload"]["data"]["sessionEvents"]["__typename"])
        finally:
            await ws.close()
        after = await wait_for_value(http, "graphql_websockets_open", 0)
        assert value(after, "graphql_subscriptions_active") == 0
        delivered = value(after, "broker_delivery_lag_seconds_count") - value(
            before, "broker_delivery_lag_seconds_count"
        )
        assert delivered >= len(kinds) >= 3  # TurnStarted, MessageAdded ..., TurnFinished
        assert value(after, "broker_delivery_lag_seconds_sum") < delivered * 5
        ok = {"type": "subscription", "operation": "anonymous", "outcome": "ok"}
        assert value(after, "graphql_operations_total", **ok) >= 1


async def wait_for_value(
    http: httpx.AsyncClient, name: str, expected: float, timeout: float = 10.0
) -> dict[Any, float]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await scrape(http)
        if value(current, name) == expected or asyncio.get_running_loop().time() > deadline:
            assert value(current, name) == expected, (name, value(current, name))
            return current
        await asyncio.sleep(0.05)
