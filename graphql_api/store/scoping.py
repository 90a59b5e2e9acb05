"""Tenancy in SQL: every statement a repository runs starts from one of these."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, select

from graphql_api.domain.principal import Principal
from graphql_api.store.models import Session

sessions_table: Table = Session.__table__  # type: ignore[assignment]


def owned_sessions(principal: Principal) -> Select[Any]:
    """The caller's sessions (all sessions for an admin key)."""
    stmt = select(sessions_table)
    if principal.owner_filter is not None:
        stmt = stmt.where(sessions_table.c.owner_key_id == principal.owner_filter)
    return stmt


def owned_children(table: Table, principal: Principal) -> Select[Any]:
    """Rows of a table with a `session_id`, limited to the caller's sessions by a join."""
    stmt = select(table)
    if principal.owner_filter is not None:
        stmt = stmt.select_from(
            table.join(sessions_table, sessions_table.c.id == table.c.session_id)
        ).where(sessions_table.c.owner_key_id == principal.owner_filter)
    return stmt
