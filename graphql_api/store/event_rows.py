"""Rows carried inside events, given back their column types.

`domain.events.row_to_json` turns uuids and datetimes into strings so events can cross Redis;
a subscriber turns them back with the table's own column types, so a row from an event looks
like a row from the database to everything that builds GraphQL objects from rows.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from sqlalchemy import Table, Uuid

from graphql_api.store.models import Message, Session, ToolApproval, Turn
from graphql_api.store.types import UTCDateTime

#: The table each row-carrying event field holds a row of.
EVENT_ROW_TABLES: dict[str, Table] = {
    "session": Session.__table__,  # type: ignore[attr-defined]
    "turn": Turn.__table__,  # type: ignore[attr-defined]
    "message": Message.__table__,  # type: ignore[attr-defined]
    "approval": ToolApproval.__table__,  # type: ignore[attr-defined]
}


def row_from_json(table: Table, data: dict[str, Any]) -> SimpleNamespace:
    """A stored row from its JSON form; columns the event left out are None."""
    values: dict[str, Any] = {}
    for column in table.columns:
        value = data.get(column.name)
        if isinstance(value, str):
            if isinstance(column.type, Uuid):
                value = UUID(value)
            elif isinstance(column.type, UTCDateTime):
                value = datetime.fromisoformat(value)
        values[column.name] = value
    return SimpleNamespace(**values)


def revive_event_rows(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of an event whose row fields (session, turn, message, approval) are rows again."""
    revived = dict(event)
    for name, table in EVENT_ROW_TABLES.items():
        value = event.get(name)
        if isinstance(value, dict):
            revived[name] = row_from_json(table, value)
    return revived
