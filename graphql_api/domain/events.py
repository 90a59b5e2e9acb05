"""Session events: what the runner publishes and subscribers receive, as plain JSON-able dicts.

Every event carries `type`, `session_id` (str uuid) and `sequence` (the newest persisted
message's sequence when it was sent). Events that name a stored row carry the row's columns
(`message`, `turn`, `approval`, `session`), so a subscriber can answer without a database read.
Types:
- TurnStarted      {turn}
- MessageAdded     {message}           persisted; replayed on resume
- TextDelta        {turn_id, text}      live only, may be dropped under backpressure
- ToolApprovalRequested {approval}
- TurnFinished     {turn}
- SessionStatusChanged {status, session}
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

TURN_STARTED = "TurnStarted"
MESSAGE_ADDED = "MessageAdded"
TEXT_DELTA = "TextDelta"
TOOL_APPROVAL_REQUESTED = "ToolApprovalRequested"
TURN_FINISHED = "TurnFinished"
SESSION_STATUS_CHANGED = "SessionStatusChanged"

#: Events a slow subscriber may lose without losing anything persisted.
DROPPABLE = frozenset({TEXT_DELTA})


def session_channel(session_id: UUID | str) -> str:
    """Where a session's events are published."""
    return f"session:{session_id}"


def owner_channel(owner_key_id: UUID | str) -> str:
    """Where status changes of one key's sessions are published (for session lists)."""
    return f"owner:{owner_key_id}"


ALL_SESSIONS_CHANNEL = "sessions:all"
"""Status changes of every session, for admin keys' `sessionUpdates`."""


def control_channel(session_id: UUID | str) -> str:
    """Commands (interrupt, approval answers, mode changes) for the instance running a turn."""
    return f"control:{session_id}"


def row_to_json(row: Any) -> dict[str, Any]:
    """A stored row as JSON-able values (uuids and datetimes become strings)."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    return {key: _jsonable(value) for key, value in mapping.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def event(type_: str, session_id: UUID | str, sequence: int, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "session_id": str(session_id), "sequence": sequence, **fields}


def encode(evt: dict[str, Any]) -> str:
    return json.dumps(evt, separators=(",", ":"), default=_jsonable)


def decode(data: str | bytes) -> dict[str, Any]:
    return json.loads(data)
