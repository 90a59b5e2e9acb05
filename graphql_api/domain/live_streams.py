"""What one subscriber sees live: a session's events (lossless) and its key's session updates.

The lossless algorithm (DESIGN.md, decision 6): subscribe to the broker first, then replay the
persisted messages past `after_sequence` from the database, then drain live events, skipping
every MessageAdded the client already has. Because the broker subscription is confirmed before
the first replay read, a message is either committed before that read (replayed) or published
after the subscription (delivered live) - or both, and then sent once.

`last` below is the newest message sequence this client has been sent (or, live-only, the
session's newest when it subscribed). Every event leaves with `sequence <= last`, so resuming
from any event's sequence loses nothing. A live event that names a newer sequence than `last`
first pulls the missing messages from storage, so a publisher that crashed between commit and
publish cannot leave a hole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from graphql_api.broker.base import EventBroker, SubscriberOverflow
from graphql_api.domain.errors import BrokerUnavailable, NotFound, SlowConsumer
from graphql_api.domain.events import (
    ALL_SESSIONS_CHANNEL,
    DROPPABLE,
    MESSAGE_ADDED,
    event,
    owner_channel,
    session_channel,
)
from graphql_api.domain.principal import Principal
from graphql_api.store.database import Database
from graphql_api.store.event_rows import revive_event_rows
from graphql_api.store.messages import MessageRepository
from graphql_api.store.sessions import SessionRepository

REPLAY_PAGE_SIZE = 200


class SessionEventStream:
    """One subscriber's stream of a session's events, as event dicts whose rows are rows."""

    def __init__(
        self,
        db: Database,
        broker: EventBroker,
        principal: Principal,
        session_id: UUID,
        *,
        after_sequence: int | None,
        queue_size: int,
        page_size: int = REPLAY_PAGE_SIZE,
    ) -> None:
        self.db = db
        self.broker = broker
        self.principal = principal
        self.session_id = session_id
        self.after_sequence = after_sequence
        self.queue_size = queue_size
        self.page_size = page_size
        #: The newest message sequence the client has been sent (see the module docstring).
        self.last = after_sequence or 0

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        if await self._session_last_sequence() is None:
            raise NotFound("session not found", field="sessionId")
        subscription = await self.broker.subscribe(
            session_channel(self.session_id), maxsize=self.queue_size
        )
        try:
            if self.after_sequence is None:
                self.last = await self._session_last_sequence() or 0
            else:
                async for stored in self._stored(self.last):
                    yield stored
            async for live in subscription:
                async for out in self._live(live):
                    yield out
        except SubscriberOverflow:
            raise SlowConsumer(
                "the subscriber fell too far behind; resubscribe with afterSequence=lastSequence",
                lastSequence=self.last,
            ) from None
        except BrokerUnavailable as error:
            raise BrokerUnavailable(
                f"{error.message}; resubscribe with afterSequence=lastSequence",
                lastSequence=self.last,
            ) from None
        finally:
            await subscription.close()

    async def _live(self, live: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        kind = live.get("type")
        sequence = int(live.get("sequence") or 0)
        if kind == MESSAGE_ADDED:
            if sequence <= self.last:
                return  # replayed already, or sent twice by the publisher
            if sequence > self.last + 1:
                async for stored in self._stored(self.last, upto=sequence - 1):
                    yield stored
            self.last = sequence
            yield revive_event_rows(live)
            return
        if kind in DROPPABLE:
            if sequence < self.last:
                return  # text of a message the client already has in full
        elif sequence > self.last:
            async for stored in self._stored(self.last, upto=sequence):
                yield stored
        yield {**revive_event_rows(live), "sequence": min(sequence, self.last)}

    async def _stored(self, after: int, upto: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Persisted messages past `after`, a page per read; no connection is held while the
        client takes its time."""
        while True:
            async with self.db.read() as conn:
                rows = await MessageRepository(conn).after_sequence(
                    self.principal, self.session_id, after, self.page_size, upto
                )
            for row in rows:
                after = self.last = row.sequence
                yield event(MESSAGE_ADDED, self.session_id, row.sequence, message=row)
            if len(rows) < self.page_size:
                return

    async def _session_last_sequence(self) -> int | None:
        """The session's newest sequence, or None when the caller cannot see it."""
        async with self.db.read() as conn:
            found = await SessionRepository(conn).get_many(self.principal, [self.session_id])
        row = found.get(self.session_id)
        return None if row is None else int(row.last_sequence)


async def session_updates(
    broker: EventBroker, principal: Principal, *, queue_size: int
) -> AsyncIterator[Any]:
    """Rows of the caller's sessions whose status changed (every session for an admin key)."""
    channel = ALL_SESSIONS_CHANNEL if principal.is_admin else owner_channel(principal.key_id)
    subscription = await broker.subscribe(channel, maxsize=queue_size)
    try:
        async for live in subscription:
            row = revive_event_rows(live).get("session")
            if row is None or not hasattr(row, "owner_key_id"):
                continue
            if principal.owner_filter is not None and row.owner_key_id != principal.owner_filter:
                continue
            yield row
    except SubscriberOverflow:
        raise SlowConsumer("the subscriber fell too far behind; subscribe again") from None
    finally:
        await subscription.close()
