"""Fixtures that start real things: a PostgreSQL database and a SQLite file, migrated by Alembic.

Every database test runs twice, once per backend (the `database_url` fixture is parametrized).
Tests isolate themselves by creating their own API keys: tenancy keeps their data apart.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from graphql_api.app import create_app
from graphql_api.services import Services
from graphql_api.settings import Settings
from graphql_api.store.migrate import upgrade_to_head
from tests.live import channel_prefix
from tests.redis_server import RedisServer

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "postgresql,sqlite").split(",") if b]


async def create_pg_database() -> tuple[str, str]:
    name = f"gapi_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    host_part = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    return name, f"postgresql+asyncpg://{host_part}/{name}"


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: Any) -> AsyncIterator[str]:
    """A freshly migrated database of each backend, shared by the whole run."""
    if request.param == "postgresql":
        name, url = await create_pg_database()
        await upgrade_to_head(url)
        yield url
        await drop_pg_database(name)
    else:
        path = tmp_path_factory.mktemp("sqlite") / "test.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade_to_head(url)
        yield url


TEST_ROOT = Path(os.environ.get("TMPDIR", "/tmp")) / f"gapi-test-{os.getpid()}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings: turns run the real SDK against the project's stand-in CLI."""
    from tests.agent_doubles import standin_cli_path

    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": None,
        "auth_cache_seconds": 60.0,
        "workspace_root": TEST_ROOT / "workspaces",
        "claude_config_dir": TEST_ROOT / "claude-config",
        "claude_cli_path": standin_cli_path(),
        "agent_backend": "claude",
        "interrupt_grace_seconds": 3.0,
        # Rate limits are tested in tests/hardening; elsewhere one key may start 100 turns.
        "rate_limit_enabled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
async def services(database_url: str) -> AsyncIterator[Services]:
    services = Services.create(make_settings(database_url))
    await services.start()
    yield services
    await services.close()


class GraphQLClient:
    """Posts GraphQL over HTTP to the app, with an API key."""

    def __init__(self, http: httpx.AsyncClient, secret: str | None) -> None:
        self.http = http
        self.secret = secret

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a query that must not fail."""
        body = await self.execute(query, variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The first error of a query that must fail."""
        body = await self.execute(query, variables)
        assert body.get("errors"), body
        return body["errors"][0]


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services=services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


@pytest.fixture
def graphql(http: httpx.AsyncClient) -> Any:
    """A factory: graphql(secret) -> GraphQLClient."""
    return lambda secret=None: GraphQLClient(http, secret)


@pytest.fixture
async def new_key(services: Services) -> Any:
    """A factory for fresh API keys: await new_key(admin=False) -> (key_id, secret)."""

    async def make(admin: bool = False, name: str | None = None) -> tuple[uuid.UUID, str]:
        created = await services.api_keys.create(name or f"test-{uuid.uuid4().hex[:6]}", is_admin=admin)
        return created.row["id"], created.secret

    return make


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.active = False

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.active:
            self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        self.statements.clear()
        self.active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False


@pytest.fixture(scope="session")
async def quiet_services(database_url: str) -> AsyncIterator[Services]:
    """Services whose background workers are not started: only requests touch its engine."""
    services = Services.create(make_settings(database_url))
    yield services
    await services.close()


@pytest.fixture
async def quiet_graphql(quiet_services: Services) -> AsyncIterator[Any]:
    """Like `graphql`, over `quiet_services` (for counting a request's statements)."""
    app = create_app(services=quiet_services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield lambda secret=None: GraphQLClient(client, secret)


@pytest.fixture
def count_statements(quiet_services: Services) -> Iterator[StatementCounter]:
    """Counts the statements of requests made through `quiet_graphql`."""
    from sqlalchemy import event

    engine = quiet_services.db.engine.sync_engine
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


@pytest.fixture(scope="module")
def prefix() -> str:
    """A Redis channel prefix of the test module's own, so servers of other modules (and
    other test runs on the same Redis) never see its events."""
    return channel_prefix()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for a module that stops and restarts it."""
    server = RedisServer().start()
    yield server
    server.stop()
