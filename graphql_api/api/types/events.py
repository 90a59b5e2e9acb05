"""The SessionEvent types of `sessionEvents`, built from the event dicts the broker carries.

Events carry the stored rows they name (`domain.events`), so an event becomes a GraphQL object
without a database read; only the fields a client selects beyond the row (say
`message { session { title } }`) go through the DataLoaders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from graphql_api.api.ids import to_global_id
from graphql_api.api.types.enums import SessionStatus
from graphql_api.api.types.message import Message
from graphql_api.api.types.turn import Turn
from graphql_api.domain import events as ev

if TYPE_CHECKING:
    from graphql_api.api.types.approval import ToolApproval

log = logging.getLogger("graphql_api.api.events")


@strawberry.interface(
    description="Every event of a session's stream carries the session-wide sequence of the "
    "last persisted message at that point."
)
class SessionEvent:
    session_id: strawberry.ID
    sequence: int = strawberry.field(
        description="Sequence of the newest persisted message when this event was sent. "
        "Resume with afterSequence = this value."
    )


@strawberry.type
class TurnStarted(SessionEvent):
    turn: Turn


@strawberry.type(description="A message was persisted. Replayed on resume.")
class MessageAdded(SessionEvent):
    message: Message


@strawberry.type(description="Partial text as the model writes it. Live only, never replayed.")
class TextDelta(SessionEvent):
    turn_id: strawberry.ID
    text: str


@strawberry.type
class TurnFinished(SessionEvent):
    turn: Turn


@strawberry.type
class ToolApprovalRequested(SessionEvent):
    approval: Annotated[ToolApproval, strawberry.lazy("graphql_api.api.types.approval")]


@strawberry.type
class SessionStatusChanged(SessionEvent):
    status: SessionStatus


EVENT_TYPES: tuple[type, ...] = (
    TurnStarted,
    MessageAdded,
    TextDelta,
    TurnFinished,
    ToolApprovalRequested,
    SessionStatusChanged,
)


def _approval(row: Any) -> Any:
    from graphql_api.api.types.approval import ToolApproval

    return ToolApproval.from_row(row)


_BUILDERS: dict[str, Callable[[strawberry.ID, int, dict[str, Any]], SessionEvent]] = {
    ev.TURN_STARTED: lambda sid, seq, e: TurnStarted(
        session_id=sid, sequence=seq, turn=Turn.from_row(e["turn"])
    ),
    ev.MESSAGE_ADDED: lambda sid, seq, e: MessageAdded(
        session_id=sid, sequence=seq, message=Message.from_row(e["message"])
    ),
    ev.TEXT_DELTA: lambda sid, seq, e: TextDelta(
        session_id=sid,
        sequence=seq,
        turn_id=strawberry.ID(to_global_id("Turn", e["turn_id"])),
        text=str(e["text"]),
    ),
    ev.TURN_FINISHED: lambda sid, seq, e: TurnFinished(
        session_id=sid, sequence=seq, turn=Turn.from_row(e["turn"])
    ),
    ev.TOOL_APPROVAL_REQUESTED: lambda sid, seq, e: ToolApprovalRequested(
        session_id=sid, sequence=seq, approval=_approval(e["approval"])
    ),
    ev.SESSION_STATUS_CHANGED: lambda sid, seq, e: SessionStatusChanged(
        session_id=sid, sequence=seq, status=SessionStatus[e["status"]]
    ),
}


def session_event(event: dict[str, Any]) -> SessionEvent | None:
    """The GraphQL object of an event whose rows are rows again; None for an event this server
    does not know or cannot read (logged: a long-lived stream outlives one bad event)."""
    build = _BUILDERS.get(str(event.get("type")))
    if build is None:
        return None
    try:
        session_id = strawberry.ID(to_global_id("Session", event["session_id"]))
        return build(session_id, int(event["sequence"]), event)
    except (KeyError, AttributeError, TypeError, ValueError):
        log.warning("skipped a malformed %s event", event.get("type"), exc_info=True)
        return None
