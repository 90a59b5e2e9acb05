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

`deliveries()` yields each event as a `Delivery`: a live one still holds the broker's event
object, which every local subscriber of the channel receives as the same object, so
subscribers can share the work of answering it (api/fanout.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from graphql_api.broker.base import EventBroker, SubscriberOverflow
from graphql_api.domain.errors import BrokerUnavailable, NotFound, ServiceUnavailable, SlowConsumer
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


class Delivery:
    """One event for one subscriber: a stored message, or a live event from the broker.

    A live delivery is fully determined by `source` (the broker's event, shared by every local
    subscriber of the channel and never modified) and `sequence` (what this subscriber is told),
    so two deliveries with the same pair are the same event for any subscriber.
    """

    __slots__ = ("live", "sequence", "source")

    def __init__(self, source: dict[str, Any], sequence: int, *, live: bool) -> None:
        self.source = source
        self.sequence = sequence
        self.live = live

    def event(self) -> dict[str, Any]:
        """The event dict, rows as rows, with the sequence this subscriber is told."""
        if not self.live:
            return self.source
        revived = revive_event_rows(self.source)  # a copy: the source stays as it was
        revived["sequence"] = self.sequence
        return revived


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
        async for delivery in self.deliveries():
            yield delivery.event()

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """The stream as `Delivery`s (live ones still hold the broker's shared event)."""
        if await self._session_last_sequence() is None:
            raise NotFound("session not found", field="sessionId")
        subscription = await self.broker.subscribe(
            session_channel(self.session_id), maxsize=self.queue_size
        )
        positioned = self.after_sequence is not None  # `last` is where a resume would go on
        try:
            if self.after_sequence is None:
                self.last = await self._session_last_sequence() or 0
                positioned = True
            else:
                async for stored in self._stored(self.last):
                    yield stored
            while True:
                live = await subscription.get()  # raises what ended the subscription
                kind = live.get("type")
                sequence = int(live.get("sequence") or 0)
                if kind == MESSAGE_ADDED:
                    if sequence <= self.last:
                        continue  # replayed already, or sent twice by the publisher
                    if sequence > self.last + 1:
                        async for stored in self._stored(self.last, upto=sequence - 1):
                            yield stored
                    self.last = sequence
                    yield Delivery(live, sequence, live=True)
                    continue
                if kind in DROPPABLE:
                    if sequence < self.last:
                        continue  # text of a message the client already has in full
                elif sequence > self.last:
                    async for stored in self._stored(self.last, upto=sequence):
                        yield stored
                yield Delivery(live, min(sequence, self.last), live=True)
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
        except ServiceUnavailable as error:  # the database went away mid-stream (replay, gaps)
            if not positioned:  # live-only and not started: there is nothing to resume from
                raise
            raise ServiceUnavailable(
                f"{error.message}; resubscribe with afterSequence=lastSequence",
                **{**error.extensions, "lastSequence": self.last},
            ) from None
        finally:
            await subscription.close()

    async def _stored(self, after: int, upto: int | None = None) -> AsyncIterator[Delivery]:
        """Persisted messages past `after`, a page per read; no connection is held while the
        client takes its time."""
        while True:
            async with self.db.read() as conn:
                rows = await MessageRepository(conn).after_sequence(
                    self.principal, self.session_id, after, self.page_size, upto
                )
            for row in rows:
                after = self.last = row.sequence
                stored = event(MESSAGE_ADDED, self.session_id, row.sequence, message=row)
                yield Delivery(stored, row.sequence, live=False)
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
