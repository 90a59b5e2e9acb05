"""The by-id read, sent on the driver's connection on PostgreSQL.

`session(id)`, `node(id)`, parents, and every DataLoader of objects by id send one statement:
the caller's rows among some ids (scoping.owned_by_ids). Through SQLAlchemy's execution layer
(the greenlet hand-off, the cursor adapter, result rows) that statement costs about 0.25 ms of
CPU on top of asyncpg's own work: about a fifth of a whole `session(id)` request
(BENCHMARKS.md, round 3). So on PostgreSQL it goes straight to asyncpg, on the connection
SQLAlchemy checked out for the request:

- The SQL is SQLAlchemy's compilation of the same Core statement (scoping.by_ids_statement,
  in its `= ANY($1)` form), compiled once per table and scope: the tenancy condition is the
  one every other read uses.
- Rows read like SQLAlchemy's: by attribute, and through `_mapping`. The values are the
  driver's, which are what SQLAlchemy returns for these column types (tests/store compares
  both paths column by column).
- The statement is announced to SQLAlchemy's `before_cursor_execute` listeners, so what
  counts statements (the N+1 tests, the benchmarks) still sees it.
- A connection that breaks under it is invalidated, as SQLAlchemy invalidates one, and the
  read answers SERVICE_UNAVAILABLE.

SQLite, and an engine that echoes its SQL, take the Core path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.errors import DatabaseUnavailable
from graphql_api.domain.principal import Principal
from graphql_api.store.database import is_unavailable
from graphql_api.store.scoping import by_ids_statement, owned_by_ids


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


async def fetch_owned_by_ids(
    conn: AsyncConnection, table: Table, principal: Principal, ids: Sequence[Any]
) -> list[Any]:
    """`table`'s rows with these ids that the caller may see (SQLAlchemy rows on SQLite)."""
    sync = conn.sync_connection
    if conn.dialect.name != "postgresql" or sync is None or sync.engine.echo:
        stmt, params = owned_by_ids(table, principal, ids)
        return list((await conn.execute(stmt, params)).all())
    owner = principal.owner_filter
    sql = _driver_sql(conn, table, owner is not None)
    args: tuple[Any, ...] = (list(ids), owner) if owner is not None else (list(ids),)
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


_SQL: dict[tuple[Table, bool], str] = {}


def _driver_sql(conn: AsyncConnection, table: Table, scoped: bool) -> str:
    key = (table, scoped)
    sql = _SQL.get(key)
    if sql is None:
        compiled = by_ids_statement(table, scoped, as_array=True).compile(dialect=conn.dialect)
        # asyncpg takes positional arguments: the ids first, then the owner.
        assert list(compiled.positiontup or ()) == (["ids", "owner"] if scoped else ["ids"])
        sql = _SQL[key] = compiled.string
    return sql
