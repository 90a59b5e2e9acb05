"""Prometheus metrics of one server process, served at /metrics in the text format.

Each `Services` owns one `ServerMetrics` with its own registry (tests run many apps in one
process). Counters and histograms move as requests happen; gauges of things that exist
anyway (running turns, queued turns, the database pool) are read when /metrics is scraped.

`operation` labels are operation names, which clients choose: past MAX_OPERATION_NAMES
distinct names, new ones are counted as "other", so a client cannot grow the series without
bound.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from graphql_api.services import Services

log = logging.getLogger("graphql_api.metrics")

MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.operations = Counter(
            "graphql_operations", "GraphQL operations by type, name and outcome (ok or error code).",
            ["type", "operation", "outcome"], registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "graphql_operation_duration_seconds",
            "Time from receiving a query or mutation to its result (subscriptions excluded).",
            ["type", "operation"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.turns_running = Gauge(
            "agent_turns_running", "Turns this instance runs now.", registry=r
        )
        self.turns_queued = Gauge(
            "agent_turns_queued", "Turns waiting in the queue (all instances).", registry=r
        )
        self.websockets_open = Gauge(
            "graphql_websockets_open", "Open websocket connections on /graphql.", registry=r
        )
        self.subscriptions_active = Gauge(
            "graphql_subscriptions_active", "Subscriptions running now.", registry=r
        )
        self.delivery_lag = Histogram(
            "broker_delivery_lag_seconds",
            "From publishing a live event to handing it to a subscription.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.db_pool_in_use = Gauge(
            "database_pool_connections_in_use", "Database connections checked out now.", registry=r
        )
        self.db_pool_size = Gauge(
            "database_pool_size", "Database connections the pool keeps (overflow not counted).",
            registry=r,
        )  # fmt: skip
        self._names: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if name in self._names:
            return name
        if len(self._names) < MAX_OPERATION_NAMES and _NAME.fullmatch(name):
            self._names.add(name)
            return name
        return "other"

    def observe_operation(
        self, operation_type: str, name: str | None, outcome: str, seconds: float | None
    ) -> None:
        label = self.operation_label(name)
        self.operations.labels(operation_type, label, outcome).inc()
        if seconds is not None:
            self.duration.labels(operation_type, label).observe(seconds)

    def observe_delivery(self, event: dict[str, Any]) -> None:
        """A live event reached its subscription; publishers stamp `published_at` (epoch s)."""
        published_at = event.get("published_at")
        if isinstance(published_at, (int, float)):
            self.delivery_lag.observe(max(0.0, time.time() - published_at))

    async def refresh(self, services: Services) -> None:
        """Sample the gauges that are cheaper to read at scrape time than to track."""
        self.turns_running.set(len(services.runner.running))
        pool = services.db.engine.pool
        checkedout = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        self.db_pool_in_use.set(checkedout() if callable(checkedout) else 0)
        self.db_pool_size.set(size() if callable(size) else 0)
        from graphql_api.store.turn_counts import queued_turns

        try:
            self.turns_queued.set(await queued_turns(services.db))
        except Exception:
            log.warning("metrics: could not count queued turns", exc_info=True)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class CountedWebsockets:
    """Wraps the websocket endpoint to count open connections (an ASGI app, not a function,
    so Starlette's WebSocketRoute hands it the raw connection)."""

    def __init__(self, app: Any, gauge: Gauge) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gauge.dec()
