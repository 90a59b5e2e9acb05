"""Publishing session events: the session's channel, and status changes for session lists."""

from __future__ import annotations

import logging
import time
from typing import Any

from graphql_api.broker import EventBroker
from graphql_api.domain import events as ev
from graphql_api.domain.errors import BrokerUnavailable

log = logging.getLogger("graphql_api.agent.publisher")


class EventPublisher:
    """Publishing never fails a turn: the stored messages are the truth, events are news."""

    def __init__(self, broker: EventBroker) -> None:
        self.broker = broker

    async def session_event(self, event: dict[str, Any]) -> None:
        await self._publish(ev.session_channel(event["session_id"]), event)

    async def status_changed(self, session_row: Any) -> None:
        event = ev.event(
            ev.SESSION_STATUS_CHANGED,
            session_row.id,
            session_row.last_sequence,
            status=session_row.status,
            session=ev.row_to_json(session_row),
        )
        await self._publish(ev.session_channel(session_row.id), event)
        await self._publish(ev.owner_channel(session_row.owner_key_id), event)
        await self._publish(ev.ALL_SESSIONS_CHANNEL, event)

    async def control(self, session_id: Any, command: dict[str, Any]) -> None:
        """Commands must arrive: a broker failure here is the caller's error."""
        await self.broker.publish(ev.control_channel(session_id), command)

    async def _publish(self, channel: str, event: dict[str, Any]) -> None:
        # published_at: subscribers measure publish-to-delivery lag (a /metrics histogram).
        event = {**event, "published_at": time.time()}
        try:
            await self.broker.publish(channel, event)
        except BrokerUnavailable as error:  # Redis is away: one line, not a traceback per event
            log.warning("could not publish to %s: %s", channel, error.message)
        except Exception:  # noqa: BLE001
            log.warning("could not publish to %s", channel, exc_info=True)
