"""Apps run inside the bench process (httpx ASGITransport), where a SQLAlchemy listener can
count the statements one request runs. Latencies are never taken here: only over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from graphql_api.services import Services
from graphql_api.settings import Settings


class StatementCounter:
    def __init__(self, services: Services) -> None:
        self.engine = services.db.engine.sync_engine
        self.statements: list[tuple[str, Any]] = []
        self.active = False

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if self.active:
            self.statements.append((statement, parameters))

    def __enter__(self) -> StatementCounter:  # noqa: PYI034
        self.statements = []
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False

    def __len__(self) -> int:
        return len(self.statements)


@asynccontextmanager
async def bench_services(database_url: str) -> AsyncIterator[tuple[Services, StatementCounter]]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        workspace_root=Path("/tmp/bench-workspaces"),
    )
    services = Services.create(settings)
    counter = StatementCounter(services)
    event.listen(counter.engine, "before_cursor_execute", counter)
    try:
        yield services, counter
    finally:
        event.remove(counter.engine, "before_cursor_execute", counter)
        await services.close()


def client(app: Any, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=120,
    )


async def graphql(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"query failed ({response.status_code}): {str(body)[:500]}")
    return body["data"]
