"""What a webhook can subscribe to, the payload each event carries, and the body receivers get.

The turn runner builds payloads with the `*_payload` helpers and hands them to
`graphql_api.store.webhooks.enqueue_webhook_deliveries` in the transaction that made the change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

TURN_FINISHED = "TURN_FINISHED"
TOOL_APPROVAL_REQUESTED = "TOOL_APPROVAL_REQUESTED"
SESSION_ARCHIVED = "SESSION_ARCHIVED"

WEBHOOK_EVENT_TYPES: frozenset[str] = frozenset(
    {TURN_FINISHED, TOOL_APPROVAL_REQUESTED, SESSION_ARCHIVED}
)


def _field(row: Any, name: str) -> Any:
    """A column of a SQLAlchemy Row, a mapping or any object with attributes."""
    if isinstance(row, Mapping):
        return row.get(name)
    mapping = getattr(row, "_mapping", None)
    if mapping is not None:
        return mapping.get(name)
    return getattr(row, name, None)


def turn_finished_payload(turn: Any) -> dict[str, Any]:
    """TURN_FINISHED: the finished turn's outcome (any final status: COMPLETED, FAILED ...)."""
    return jsonable(
        {
            "turn_id": _field(turn, "id"),
            "session_id": _field(turn, "session_id"),
            "status": _field(turn, "status"),
            "cost_usd": _field(turn, "cost_usd"),
            "usage": _field(turn, "usage"),
            "result": _field(turn, "result"),
            "error": _field(turn, "error"),
            "num_turns": _field(turn, "num_turns"),
            "duration_ms": _field(turn, "duration_ms"),
            "finished_at": _field(turn, "finished_at"),
        }
    )


def tool_approval_requested_payload(approval: Any) -> dict[str, Any]:
    """TOOL_APPROVAL_REQUESTED: what the agent wants to run, and until when it waits."""
    return jsonable(
        {
            "approval_id": _field(approval, "id"),
            "session_id": _field(approval, "session_id"),
            "turn_id": _field(approval, "turn_id"),
            "tool_name": _field(approval, "tool_name"),
            "tool_use_id": _field(approval, "tool_use_id"),
            "input": _field(approval, "input"),
            "expires_at": _field(approval, "expires_at"),
        }
    )


def session_archived_payload(session: Any) -> dict[str, Any]:
    """SESSION_ARCHIVED: which session, and its totals at the time."""
    return jsonable(
        {
            "session_id": _field(session, "id"),
            "title": _field(session, "title"),
            "status": _field(session, "status"),
            "total_turns": _field(session, "total_turns"),
            "total_cost_usd": _field(session, "total_cost_usd"),
            "archived_at": _field(session, "updated_at"),
        }
    )


def _default(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable in a webhook payload")


def jsonable(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON values (uuids and datetimes become strings)."""
    return json.loads(json.dumps(dict(payload), default=_default))


def delivery_body(event_type: str, created_at: datetime, payload: Mapping[str, Any]) -> bytes:
    """The bytes POSTed (and signed): the same on every retry, so receivers can dedupe."""
    envelope = {"type": event_type, "timestamp": created_at.isoformat(), "data": payload}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()
