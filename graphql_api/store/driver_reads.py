"""Hot reads sent on the driver's connection on PostgreSQL.

The by-id read (`session(id)`, `node(id)`, parents, every DataLoader of objects by id) and the
child pages of many parents (a page of 50 sessions reads its messages, turns, checkpoints and
forks this way) are the statements a request runs most, and the ones with the most rows.
Through SQLAlchemy's execution layer (building and cache-keying the statement, the greenlet
hand-off, the cursor adapter, result rows) the by-id read costs about 0.25 ms of CPU on top of
asyncpg's own work, about a fifth of a whole `session(id)` request, and a page of 1,000
messages several milliseconds (BENCHMARKS.md, rounds 3 and 4). So on PostgreSQL they go
straight to asyncpg, on the connection SQLAlchemy checked out for the request:

- Each is a `Shape`: a Core statement built once, with named bind parameters for everything
  that varies (ids, the owner, seek positions, limits), in the form SQLite takes (`IN`, one
  parameter per id) and the form the driver takes (`= ANY($1)`, one array). On PostgreSQL the
  SQL is SQLAlchemy's compilation of that statement, compiled once; the tenancy condition is
  the one every other read uses (store/scoping.py). Parameters pass through the bind
  processors SQLAlchemy would apply.
- Rows read like SQLAlchemy's: by attribute, and through `_mapping`. The values are the
  driver's, which are what SQLAlchemy returns for these column types (tests/store compares
  both paths column by column).
- The statement is announced to SQLAlchemy's `before_cursor_execute` listeners, so what
  counts statements (the N+1 tests, the benchmarks) still sees it.
- A connection that breaks under it is invalidated, as SQLAlchemy invalidates one, and the
  read answers SERVICE_UNAVAILABLE.

SQLite, and an engine that echoes its SQL, run the same statement through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.errors import DatabaseUnavailable
from graphql_api.domain.principal import Principal
from graphql_api.store.database import is_unavailable
from graphql_api.store.scoping import by_ids_statement, scope_params


class DriverRow:
    """An asyncpg record read like a SQLAlchemy Row: `row.title`, `row._mapping["title"]`."""

    __slots__ = ("_mapping",)

    def __init__(self, record: Any) -> None:
        self._mapping = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"DriverRow({dict(self._mapping.items())!r})"


class Shape:
    """One statement with named bind parameters, built once per shape: `build(as_array)` gives
    it with `IN (:name)` lists (expanded per call) or, for the driver, `= ANY(:name)` arrays."""

    __slots__ = ("_build", "_compiled", "core")

    def __init__(self, build: Callable[[bool], Select[Any]]) -> None:
        self._build = build
        self.core = build(False)
        self._compiled: tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]] | None = None

    def compiled(self, dialect: Dialect) -> tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]]:
        """(SQL, its positional parameters as (name, bind processor)) for the driver."""
        if self._compiled is None:
            compiled = self._build(True).compile(dialect=dialect)
            names = tuple(compiled.positiontup or ())
            parameters = tuple((name, compiled.binds[name].type.bind_processor(dialect)) for name in names)
            self._compiled = (compiled.string, parameters)
        return self._compiled


async def fetch_rows(conn: AsyncConnection, shape: Shape, params: Mapping[str, Any]) -> list[Any]:
    """The rows of `shape` with these parameters (SQLAlchemy rows on SQLite)."""
    sync = conn.sync_connection
    if conn.dialect.name != "postgresql" or sync is None or sync.engine.echo:
        return list((await conn.execute(shape.core, dict(params))).all())
    sql, parameters = shape.compiled(conn.dialect)
    args = tuple(
        params[name] if process is None else process(params[name]) for name, process in parameters
    )
    raw = await conn.get_raw_connection()
    if sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)
    driver = raw.driver_connection
    try:
        records = await driver.fetch(sql, *args)  # type: ignore[union-attr]
    except Exception as error:
        if is_unavailable(error) or driver.is_closed():  # type: ignore[union-attr]
            # What SQLAlchemy does on a disconnect: this connection leaves the pool for good.
            await conn.invalidate(error)
            raise DatabaseUnavailable() from error
        raise
    return [DriverRow(record) for record in records]


async def fetch_owned_by_ids(
    conn: AsyncConnection, table: Table, principal: Principal, ids: Sequence[Any]
) -> list[Any]:
    """`table`'s rows with these ids that the caller may see."""
    shape = _by_ids_shape(table, principal.owner_filter is not None)
    return await fetch_rows(conn, shape, {"ids": list(ids), **scope_params(principal)})


@cache
def _by_ids_shape(table: Table, scoped: bool) -> Shape:
    return Shape(lambda as_array: by_ids_statement(table, scoped, as_array=as_array))
