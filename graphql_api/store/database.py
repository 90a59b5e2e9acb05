"""The async engine: one per process, PostgreSQL (asyncpg) or SQLite (aiosqlite).

Dependency faults: a connection that cannot be made, or that breaks mid-statement (the
server restarted), leaves `read()` / `transaction()` as `DatabaseUnavailable` (the API's
SERVICE_UNAVAILABLE) instead of a driver exception. SQLAlchemy invalidates the pool on such a
disconnect, so later checkouts reconnect; a pooled connection the driver already knows is
closed (the server ended it while it sat idle) is replaced at checkout before any statement
is sent on it, at no round-trip cost. Together the server recovers by itself once the
database is back, without a pre-ping per checkout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from graphql_api.domain.errors import DatabaseUnavailable, DomainError

try:  # the PostgreSQL driver; absent installs run SQLite only
    from asyncpg import exceptions as _pg
except ImportError:  # pragma: no cover
    _pg = None  # type: ignore[assignment]

#: Server-side reasons a connection ended or cannot start: shutdown, crash, start-up, full.
_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    (
        _pg.PostgresConnectionError,
        _pg.AdminShutdownError,
        _pg.CrashShutdownError,
        _pg.CannotConnectNowError,
        _pg.TooManyConnectionsError,
    )
    if _pg is not None
    else ()
)
#: What making a connection raises when the server is away (refused, DNS, timeout, pool).
_CONNECT_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sa_exc.SQLAlchemyError,  # DBAPIError, pool TimeoutError, "This connection is closed"
    *((_pg.PostgresError, _pg.InterfaceError) if _pg is not None else ()),
)

#: Seconds /readyz waits for the database.
PING_TIMEOUT_SECONDS = 2.0


class Database:
    """Owns the engine; hands out connections and transactions to repositories."""

    def __init__(
        self, url: str, *, pool_size: int = 20, max_overflow: int = 0, echo: bool = False
    ) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            if _is_loopback(parsed) and not ({"ssl", "sslmode"} & set(parsed.query)):
                # asyncpg's default ("prefer") negotiates TLS even on loopback, which costs every
                # new connection (pool overflow under load) a handshake for nothing.
                kwargs["connect_args"] = {"ssl": False}
            # No pre-ping (a round trip per checkout): a connection found dead fails its request
            # and invalidates the pool, so the next request reconnects; recycle old ones.
            # No overflow by default: at 50 concurrent requests every request holds a
            # connection for a moment, and overflow connections opened and closed again (each
            # with its codec set-up queries) cost more CPU than the statements; waiting for a
            # pooled one costs less (BENCHMARKS.md, round 3). The cap is what it was (10 + 10).
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # Reads run without BEGIN/ROLLBACK round trips.
        self.read_engine: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine.sync_engine, "checkout", _replace_closed_connection)
        # SQLite has one writer at a time; serialising writers here avoids SQLITE_BUSY on a
        # read-then-write transaction. Never open a transaction while holding another.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, in autocommit mode: no transaction round trips."""
        async with _outages_mapped(self.read_engine.connect()) as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction committed on success."""
        async with self._write_lock or nullcontext(), _outages_mapped(self.engine.begin()) as conn:
            yield conn

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a write that is one statement, atomic on its own: PostgreSQL runs
        it in autocommit (no BEGIN and COMMIT round trips); SQLite, where such writes may take
        two statements, in a transaction under the write lock."""
        if self._write_lock is None:
            async with self.read() as conn:
                yield conn
        else:
            async with self.transaction() as conn:
                yield conn

    async def ping(self, timeout: float = PING_TIMEOUT_SECONDS) -> None:
        async with asyncio.timeout(timeout), self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def _outages_mapped(connecting: Any) -> AsyncIterator[AsyncConnection]:
    """The connection `connecting` opens; a database that is away (it cannot be reached, or
    the connection broke) leaves as DatabaseUnavailable, anything else as itself."""
    connected = False
    try:
        async with connecting as conn:
            connected = True
            yield conn
    except Exception as error:
        if not is_unavailable(error, connecting=not connected):
            raise
        raise DatabaseUnavailable() from error


def is_unavailable(error: BaseException, *, connecting: bool = False) -> bool:
    """Whether `error` means the database is away (not that a statement was wrong): any failure
    to connect, or a statement whose connection broke (SQLAlchemy flags those as disconnects)."""
    if isinstance(error, DomainError):
        return False
    if connecting and isinstance(error, _CONNECT_FAILURES):
        return True
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated:
                return True
            current = current.orig or current.__cause__
            continue
        if isinstance(current, (ConnectionError, *_PG_UNAVAILABLE)):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_loopback(url: Any) -> bool:
    return url.host in ("localhost", "127.0.0.1", "::1") or (url.host is None and url.query.get("host") is None)


def _replace_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout: a connection the server closed while it sat in the pool (a restart) is
    replaced by a fresh one now, instead of failing the statement about to be sent on it.
    `is_closed()` is asyncpg's own flag, set when the socket closed: no round trip."""
    driver_connection = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise sa_exc.DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
