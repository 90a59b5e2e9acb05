"""Tenancy in SQL: every statement a repository runs starts from one of these."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from graphql_api.domain.principal import Principal
from graphql_api.store.models import Session

sessions_table: Table = Session.__table__  # type: ignore[assignment]


def owned_sessions(principal: Principal) -> Select[Any]:
    """The caller's sessions (all sessions for an admin key), the caller's key bound."""
    return sessions_statement(principal.owner_filter is not None).params(scope_params(principal))


def owned_children(table: Table, principal: Principal) -> Select[Any]:
    """Rows of a table with a `session_id`, limited to the caller's sessions by a join, the
    caller's key bound."""
    return children_statement(table, principal.owner_filter is not None).params(scope_params(principal))


def scope_params(principal: Principal) -> dict[str, Any]:
    """The parameters of a statement built with `scoped=True`: the caller's key as `owner`
    (nothing for an admin key, whose statements are built unscoped)."""
    owner = principal.owner_filter
    return {} if owner is None else {"owner": owner}


@cache
def sessions_statement(scoped: bool) -> Select[Any]:
    """The sessions of the key given as `owner` (all of them unscoped), built once; its
    parameters come from `scope_params`."""
    stmt = select(sessions_table)
    return stmt.where(sessions_table.c.owner_key_id == bindparam("owner")) if scoped else stmt


@cache
def children_statement(table: Table, scoped: bool) -> Select[Any]:
    """Rows of a table with a `session_id`, limited by a join to the sessions of the key given
    as `owner` (all of them unscoped), built once; its parameters come from `scope_params`."""
    stmt = select(table)
    if not scoped:
        return stmt
    return stmt.select_from(table.join(sessions_table, sessions_table.c.id == table.c.session_id)).where(
        sessions_table.c.owner_key_id == bindparam("owner")
    )


def one_of(column: Any, name: str, *, as_array: bool) -> Any:
    """`column IN (:name)`, a list expanded per call, or with `as_array` `column = ANY(:name)`,
    one array parameter (the form store/driver_reads.py sends on PostgreSQL)."""
    if as_array:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


@cache
def by_ids_statement(table: Table, scoped: bool, *, as_array: bool = False) -> Select[Any]:
    """The by-id statement of `table`: `id IN (:ids)` (expanded per call), or with `as_array`
    `id = ANY(:ids)` with one array parameter (driver_reads.py sends that form)."""
    base = sessions_statement(scoped) if table is sessions_table else children_statement(table, scoped)
    return base.where(one_of(table.c.id, "ids", as_array=as_array))
