"""By-id reads on the driver (store/driver_reads.py) give what SQLAlchemy gives, scoped to
the caller, and are still seen by statement counters."""

from __future__ import annotations

from typing import Any

import asyncio

import pytest
from sqlalchemy import event, select, text

from graphql_api.domain.errors import DatabaseUnavailable
from graphql_api.domain.principal import Principal
from graphql_api.store.checkpoints import CheckpointRepository
from graphql_api.store.driver_reads import DriverRow, fetch_owned_by_ids
from graphql_api.store.messages import MessageRepository
from graphql_api.store.keyset import PageSpec, fetch_child_pages
from graphql_api.store.scoping import (
    by_ids_statement,
    children_statement,
    scope_params,
    sessions_statement,
    sessions_table,
)
from graphql_api.store.seed import insert_sessions
from graphql_api.store.sessions import FORK_ORDERING, SessionRepository
from graphql_api.store.turns import TurnRepository

TABLES = {
    "sessions": sessions_table,
    "turns": TurnRepository.table,
    "messages": MessageRepository.table,
    "checkpoints": CheckpointRepository.table,
}


async def _ids(conn: Any, table: Any, session_ids: list[Any]) -> list[Any]:
    column = table.c.id if table is sessions_table else table.c.session_id
    return [row.id for row in (await conn.execute(select(table).where(column.in_(session_ids)))).all()]


async def test_driver_rows_equal_sqlalchemy_rows_column_by_column(services, new_key):
    key, _ = await new_key()
    other, _ = await new_key()
    session_ids = await insert_sessions(services.db, key, 3, 4, fork_every=2)
    other_ids = await insert_sessions(services.db, other, 1, 2)
    owner = Principal(key_id=key, name="owner", is_admin=False)
    admin = Principal(key_id=other, name="admin", is_admin=True)
    async with services.db.read() as conn:
        for name, table in TABLES.items():
            ids = await _ids(conn, table, session_ids)
            foreign = await _ids(conn, table, other_ids)
            assert ids and foreign, name
            for principal, asked, visible in ((owner, ids + foreign, ids), (admin, ids + foreign, ids + foreign)):
                stmt = by_ids_statement(table, principal.owner_filter is not None)  # SQLAlchemy's path
                params = {"ids": asked, **scope_params(principal)}
                expected = {row.id: row._mapping for row in (await conn.execute(stmt, params)).all()}
                got = {row.id: row for row in await fetch_owned_by_ids(conn, table, principal, asked)}
                assert set(got) == set(expected) == set(visible), name  # nobody else's rows
                for row_id, row in got.items():
                    want = expected[row_id]
                    assert dict(row._mapping.items()) == dict(want.items()), name
                    for column, value in want.items():
                        read = getattr(row, column)
                        assert read == value and (value is None or isinstance(read, type(value))), (name, column)
    if services.db.is_sqlite:
        return
    # On PostgreSQL the rows come from the driver, and read like SQLAlchemy rows.
    async with services.db.read() as conn:
        rows = await fetch_owned_by_ids(conn, sessions_table, owner, session_ids)
    assert rows and all(isinstance(row, DriverRow) for row in rows)
    assert all(row.id in set(session_ids) for row in rows)  # hashes and compares like uuid.UUID


async def test_loaders_find_driver_rows_by_the_ids_they_asked_for(services, new_key):
    key, secret = await new_key()
    session_ids = await insert_sessions(services.db, key, 2, 2)
    principal = Principal(key_id=key, name="k", is_admin=False)
    async with services.db.read() as conn:
        found = await SessionRepository(conn).get_many(principal, session_ids)
    assert [found[i].id for i in session_ids] == session_ids


async def test_driver_reads_are_seen_by_statement_counters(services, new_key):
    key, _ = await new_key()
    session_ids = await insert_sessions(services.db, key, 1, 1)
    principal = Principal(key_id=key, name="k", is_admin=False)
    seen: list[str] = []

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        async with services.db.read() as conn:
            await SessionRepository(conn).get_many(principal, session_ids)
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
    assert len(seen) == 1 and "sessions" in seen[0] and "owner_key_id" in seen[0]


async def test_a_connection_lost_under_a_driver_read_is_unavailable_and_leaves_the_pool(services, new_key):
    key, _ = await new_key()
    session_ids = await insert_sessions(services.db, key, 1, 1)
    principal = Principal(key_id=key, name="k", is_admin=False)
    if services.db.is_sqlite:
        return  # no server to lose; SQLite reads take SQLAlchemy's path
    db = services.db
    with pytest.raises(DatabaseUnavailable):
        async with db.read() as conn:
            pid = (await conn.execute(text("select pg_backend_pid()"))).scalar_one()
            async with db.read() as other:
                await other.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            await asyncio.sleep(0.2)  # the server's goodbye reaches the client
            await SessionRepository(conn).get_many(principal, session_ids)
    # The pool gave up that connection: the next reads work.
    for _ in range(3):
        async with db.read() as conn:
            found = await SessionRepository(conn).get_many(principal, session_ids)
        assert list(found) == session_ids


CHILD_LISTS = {
    "messages": (MessageRepository.table, "session_id", MessageRepository.ordering),
    "turns": (TurnRepository.table, "session_id", TurnRepository.ordering),
    "checkpoints": (CheckpointRepository.table, "session_id", CheckpointRepository.ordering),
    "forks": (sessions_table, "parent_id", FORK_ORDERING),
}


async def test_child_pages_on_the_driver_equal_sqlalchemy_rows_column_by_column(services, new_key):
    """Every shape of the child-pages statement (both directions, with and without a seek
    position on each side), for each child list: the same rows, values and types as the same
    statement run by SQLAlchemy, and only the caller's."""
    key, _ = await new_key()
    other, _ = await new_key()
    session_ids = await insert_sessions(services.db, key, 4, 6, fork_every=2)
    other_ids = await insert_sessions(services.db, other, 2, 6, fork_every=2)
    owner = Principal(key_id=key, name="owner", is_admin=False)
    admin = Principal(key_id=key, name="admin", is_admin=True)
    on_driver = not services.db.is_sqlite
    async with services.db.read() as conn:
        for name, (table, parent_key, ordering) in CHILD_LISTS.items():
            compared = 0
            for principal in (owner, admin):
                scoped = principal.owner_filter is not None
                statement = sessions_statement(scoped) if table is sessions_table else children_statement(table, scoped)
                in_lists = statement.where(table.c[parent_key].in_(session_ids + other_ids))
                all_rows = (await conn.execute(in_lists, scope_params(principal))).all()
                middle = ordering.keys(sorted(all_rows, key=ordering.keys)[len(all_rows) // 2])
                first = ordering.keys(min(all_rows, key=ordering.keys))
                for spec in (
                    PageSpec(limit=2), PageSpec(limit=2, forward=False), PageSpec(limit=3, after=middle),
                    PageSpec(limit=3, forward=False, before=middle), PageSpec(limit=9, after=first, before=middle),
                ):  # fmt: skip
                    pages = await fetch_child_pages(
                        conn, statement, scope_params(principal), table.c[parent_key],
                        session_ids + other_ids, ordering, spec,
                    )  # fmt: skip
                    got = [row for page in pages.values() for row in page.rows]
                    compared += len(got)
                    if on_driver:
                        assert all(isinstance(row, DriverRow) for row in got), name
                    # The same page by SQLAlchemy: each parent's rows in order, seek and limit applied.
                    for parent, page in pages.items():
                        expected, has_next, has_previous = _expected_page(all_rows, parent_key, parent, ordering, spec)
                        assert (page.has_next, page.has_previous) == (has_next, has_previous), (name, spec)
                        assert [row.id for row in page.rows] == [row.id for row in expected], (name, spec)
                        for row, want in zip(page.rows, expected, strict=True):
                            for column, value in want._mapping.items():
                                read = getattr(row, column)
                                assert read == value and (value is None or isinstance(read, type(value))), (name, column)
                    visible = {getattr(row, parent_key) for row in got}
                    if scoped:
                        assert not visible & set(other_ids), name  # nobody else's rows
            assert compared > 10, name


def _expected_page(
    rows: list[Any], parent_key: str, parent: Any, ordering: Any, spec: PageSpec
) -> tuple[list[Any], bool, bool]:
    """(the page's rows, hasNextPage, hasPreviousPage) worked out in Python."""
    mine = sorted((row for row in rows if getattr(row, parent_key) == parent), key=ordering.keys)
    if spec.after is not None:
        mine = [row for row in mine if ordering.keys(row) > spec.after]
    if spec.before is not None:
        mine = [row for row in mine if ordering.keys(row) < spec.before]
    more = len(mine) > spec.limit
    if spec.forward:
        return mine[: spec.limit], more, spec.after is not None
    return mine[-spec.limit :], spec.before is not None, more
