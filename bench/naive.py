"""The N+1 baselines: the same data loaded one parent at a time, as lazy loading does.

Two servers are built here, both over the product's own tables, auth and tenancy:
- `naive-graphql`: the product's schema, types and resolvers, with the request's DataLoaders
  swapped for loaders that run one statement per parent (no batching), one after another on
  the request's one connection, as an ORM session with `lazy="select"` relationships does.
- `naive-rest`: what REST servers built around the SDK do: `GET /rest/sessions` lists the
  caller's sessions, then for each one awaits its messages, turns, checkpoints, forks and
  parent in turn, and serializes pydantic models (FastAPI's way).
Neither is a straw man: each statement is an indexed keyset query (the product's own
`fetch_page`), and the connection is checked out once per request.
- `GET /rest/session-page?offset=K`: the OFFSET baseline of suite 3 (`?page=N&per_page=50`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from graphql_api.api.context import RequestContext
from graphql_api.api.loaders import Loaders
from graphql_api.api.view import GraphQLView, api_key_from_headers
from graphql_api.domain.principal import Principal
from graphql_api.services import Services
from graphql_api.store.api_keys import api_keys_table
from graphql_api.store.checkpoints import CheckpointRepository, checkpoints_table
from graphql_api.store.database import Database
from graphql_api.store.keyset import Ordering, Page, PageSpec, fetch_page
from graphql_api.store.messages import MessageRepository, messages_table
from graphql_api.store.scoping import owned_children, owned_sessions, sessions_table
from graphql_api.store.sessions import FORK_ORDERING, SESSION_ORDERINGS
from graphql_api.store.turns import TurnRepository, turns_table

# --- one connection per request ------------------------------------------------------------

_held: ContextVar[tuple[AsyncConnection, asyncio.Lock] | None] = ContextVar("held", default=None)


class ConnectionPerRequest:
    """ASGI middleware: the request's one connection (FastAPI's `Depends(get_session)`)."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/graphql", "/rest")):
            await self.app(scope, receive, send)
            return
        async with self.db.read() as conn:
            token = _held.set((conn, asyncio.Lock()))
            try:
                await self.app(scope, receive, send)
            finally:
                _held.reset(token)


@asynccontextmanager
async def request_connection(db: Database) -> AsyncIterator[AsyncConnection]:
    held = _held.get()
    if held is None:  # outside the middleware: a connection of its own
        async with db.read() as conn:
            yield conn
        return
    conn, lock = held
    async with lock:  # one statement at a time on one connection, like one ORM session
        yield conn


# --- per-parent statements -----------------------------------------------------------------


async def child_page(
    conn: AsyncConnection,
    table: Table,
    column: str,
    ordering: Ordering,
    parent: Any,
    spec: PageSpec,
) -> Page:
    """One parent's page of one child list: `... where <column> = :parent order by ... limit`."""
    return await fetch_page(conn, select(table).where(table.c[column] == parent), ordering, spec)


async def child_count(conn: AsyncConnection, table: Table, column: str, parent: Any) -> int:
    stmt = select(func.count()).select_from(table).where(table.c[column] == parent)
    return int((await conn.execute(stmt)).scalar_one())


async def session_by_id(conn: AsyncConnection, principal: Principal, key: UUID) -> Any:
    stmt = owned_sessions(principal).where(sessions_table.c.id == key)
    return (await conn.execute(stmt)).first()


async def fork_page(
    conn: AsyncConnection, principal: Principal, parent: UUID, spec: PageSpec
) -> Page:
    stmt = owned_sessions(principal).where(sessions_table.c.parent_id == parent)
    return await fetch_page(conn, stmt, FORK_ORDERING, spec)


class PerParentLoader:
    """Quacks like a DataLoader, but every `load` is its own statement: no batching."""

    def __init__(
        self, db: Database, fetch: Callable[[AsyncConnection, Any], Awaitable[Any]]
    ) -> None:
        self.db = db
        self.fetch = fetch

    async def load(self, key: Any) -> Any:
        async with request_connection(self.db) as conn:
            return await self.fetch(conn, key)

    async def load_many(self, keys: list[Any]) -> list[Any]:
        return [await self.load(key) for key in keys]


class NaiveLoaders:
    """The attributes of `graphql_api.api.loaders.Loaders` that the benchmarked queries use,
    one statement per parent each. Any other (added to the product since) falls through to
    the product's batching loader, so the baseline keeps answering every query."""

    def __init__(self, db: Database, principal: Principal) -> None:
        self._db = db
        self._principal = principal
        self._batched: Loaders | None = None
        p = principal

        def loader(fetch: Callable[[AsyncConnection, Any], Awaitable[Any]]) -> PerParentLoader:
            return PerParentLoader(db, fetch)

        def by_id(table: Table) -> PerParentLoader:
            async def fetch(conn: AsyncConnection, key: Any) -> Any:
                stmt = owned_children(table, p).where(table.c.id == key)
                return (await conn.execute(stmt)).first()

            return loader(fetch)

        def pages(table: Table, column: str, ordering: Ordering) -> PerParentLoader:
            return loader(lambda conn, key: child_page(conn, table, column, ordering, *key))

        def counts(table: Table, column: str) -> PerParentLoader:
            return loader(lambda conn, key: child_count(conn, table, column, key))

        async def api_key(conn: AsyncConnection, key: UUID) -> Any:
            if not p.is_admin and key != p.key_id:
                return None
            stmt = select(api_keys_table).where(api_keys_table.c.id == key)
            return (await conn.execute(stmt)).first()

        async def active_turn(conn: AsyncConnection, key: UUID) -> Any:
            stmt = owned_children(turns_table, p).where(
                turns_table.c.session_id == key, turns_table.c.status == "RUNNING"
            )
            return (await conn.execute(stmt)).first()

        async def fork_count(conn: AsyncConnection, key: UUID) -> int:
            stmt = (
                owned_sessions(p)
                .with_only_columns(func.count())
                .where(sessions_table.c.parent_id == key)
            )
            return int((await conn.execute(stmt)).scalar_one())

        self.session = loader(lambda conn, key: session_by_id(conn, p, key))
        self.turn = by_id(turns_table)
        self.message = by_id(messages_table)
        self.checkpoint = by_id(checkpoints_table)
        self.api_key = loader(api_key)
        self.active_turn = loader(active_turn)
        self.session_messages = pages(messages_table, "session_id", MessageRepository.ordering)
        self.session_turns = pages(turns_table, "session_id", TurnRepository.ordering)
        self.session_checkpoints = pages(
            checkpoints_table, "session_id", CheckpointRepository.ordering
        )
        self.turn_messages = pages(messages_table, "turn_id", MessageRepository.ordering)
        self.session_forks = loader(lambda conn, key: fork_page(conn, p, *key))
        self.session_message_count = counts(messages_table, "session_id")
        self.session_turn_count = counts(turns_table, "session_id")
        self.session_checkpoint_count = counts(checkpoints_table, "session_id")
        self.turn_message_count = counts(messages_table, "turn_id")
        self.session_fork_count = loader(fork_count)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._batched is None:
            self._batched = Loaders(self._db, self._principal)
        return getattr(self._batched, name)


class NaiveGraphQLView(GraphQLView):
    """The product's endpoint with per-parent loaders in its request context."""

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        context = await super().get_context(request, response)
        if context.principal_or_none is not None:
            context._loaders = NaiveLoaders(self.services.db, context.principal_or_none)  # type: ignore[assignment]
        return context


# --- the REST baseline ---------------------------------------------------------------------


class Ref(BaseModel):
    id: UUID
    title: str | None


class MessageOut(BaseModel):
    sequence: int
    role: str
    content: list[dict[str, Any]]


class TurnOut(BaseModel):
    id: UUID
    status: str
    prompt: str
    cost_usd: float | None
    usage: dict[str, Any] | None


class CheckpointOut(BaseModel):
    id: UUID
    user_message_uuid: str
    files_modified: list[str]


class SessionOut(BaseModel):
    id: UUID
    title: str | None
    status: str
    created_at: datetime
    parent: Ref | None
    forks: list[Ref]
    messages: list[MessageOut]
    messages_have_more: bool
    turns: list[TurnOut]
    checkpoints: list[CheckpointOut]


SESSIONS_OUT = TypeAdapter(list[SessionOut])


def _fields(model: type[BaseModel], row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in model.model_fields}


async def rest_sessions(request: Request) -> Response:
    """GET /rest/sessions?limit=50&messages=20: each session's children loaded on their own."""
    services: Services = request.app.state.services
    principal = await services.api_keys.authenticate(api_key_from_headers(request.headers))
    if principal is None:
        return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
    limit = min(int(request.query_params.get("limit", 20)), 100)
    size = min(int(request.query_params.get("messages", 20)), 100)
    out = []
    async with request_connection(services.db) as conn:
        page = await fetch_page(
            conn, owned_sessions(principal), SESSION_ORDERINGS["CREATED_AT_DESC"], PageSpec(limit)
        )
        for row in page.rows:
            spec = PageSpec(size)
            messages = await child_page(
                conn, messages_table, "session_id", MessageRepository.ordering, row.id, spec
            )
            turns = await child_page(
                conn, turns_table, "session_id", TurnRepository.ordering, row.id, spec
            )
            checkpoints = await child_page(
                conn, checkpoints_table, "session_id", CheckpointRepository.ordering, row.id, spec
            )
            forks = await fork_page(conn, principal, row.id, PageSpec(5))
            parent = await session_by_id(conn, principal, row.parent_id) if row.parent_id else None
            out.append(
                SessionOut(
                    id=row.id, title=row.title, status=row.status, created_at=row.created_at,
                    parent=Ref(id=parent.id, title=parent.title) if parent else None,
                    forks=[Ref(id=f.id, title=f.title) for f in forks.rows],
                    messages=[MessageOut(**_fields(MessageOut, m)) for m in messages.rows],
                    messages_have_more=messages.has_next,
                    turns=[TurnOut(**_fields(TurnOut, t)) for t in turns.rows],
                    checkpoints=[CheckpointOut(**_fields(CheckpointOut, c)) for c in checkpoints.rows],
                )
            )  # fmt: skip
    return Response(SESSIONS_OUT.dump_json(out), media_type="application/json")


class SessionSummaryOut(BaseModel):
    id: UUID
    title: str | None
    status: str
    created_at: datetime


SESSION_PAGE_OUT = TypeAdapter(list[SessionSummaryOut])


async def rest_session_page(request: Request) -> Response:
    """GET /rest/session-page?limit=50&offset=K: `?page=N&per_page=50`, the way REST lists page."""
    services: Services = request.app.state.services
    principal = await services.api_keys.authenticate(api_key_from_headers(request.headers))
    if principal is None:
        return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
    limit = min(int(request.query_params.get("limit", 20)), 100)
    offset = int(request.query_params.get("offset", 0))
    async with request_connection(services.db) as conn:
        rows = await offset_page(conn, principal, offset, limit)
    out = [SessionSummaryOut(**_fields(SessionSummaryOut, r)) for r in rows]
    return Response(SESSION_PAGE_OUT.dump_json(out), media_type="application/json")


async def offset_page(
    conn: AsyncConnection, principal: Principal, offset: int, limit: int
) -> list[Any]:
    """The OFFSET baseline: the same table, filter and order as the keyset page."""
    t = sessions_table
    stmt = (
        owned_sessions(principal)
        .order_by(t.c.created_at.desc(), t.c.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    return list((await conn.execute(stmt)).all())[:limit]


def build_app(services: Services) -> Starlette:
    """One app serving the baselines: /graphql (naive loaders), /rest/sessions and
    /rest/session-page (OFFSET)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    view = NaiveGraphQLView(services)
    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/rest/sessions", rest_sessions),
            Route("/rest/session-page", rest_session_page),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(ConnectionPerRequest, db=services.db)
    return app
