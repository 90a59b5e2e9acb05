"""The Subscription root: a session's live events (lossless with afterSequence) and session
list updates. Both run over graphql-transport-ws and the legacy graphql-ws protocol.

Errors end a subscription with `extensions.code` like every other error (api/errors.py):
NOT_FOUND for a session the key cannot see, RATE_LIMITED past a subscription cap,
SLOW_CONSUMER (with `lastSequence`) for a client that fell behind, BROKER_UNAVAILABLE (with
`lastSequence`) when the event broker went away. With `lastSequence` a client resumes losslessly
by subscribing again with `afterSequence: lastSequence`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from graphql_api.api.context import Info, RequestContext
from graphql_api.api.fanout import shared_deliveries
from graphql_api.api.ids import expect_global_id
from graphql_api.api.types.events import SessionEvent, session_event
from graphql_api.api.types.session import Session
from graphql_api.domain.errors import BadUserInput
from graphql_api.domain.live_streams import Delivery, SessionEventStream, session_updates


def _take_slot(context: RequestContext) -> None:
    """A starting subscription's slot (RATE_LIMITED past a cap), until `_free_slot`. Plain
    calls, not a context manager: thousands of live subscriptions would each hold one."""
    slots = context.subscription_slots
    if slots is not None:
        slots.acquire(context)
    context.services.metrics.subscriptions_active.inc()


def _free_slot(context: RequestContext) -> None:
    context.services.metrics.subscriptions_active.dec()
    slots = context.subscription_slots
    if slots is not None:
        slots.release(context)


def _event_root(delivery: Delivery) -> SessionEvent | None:
    return session_event(delivery.event())


@strawberry.type
class SessionSubscriptions:
    @strawberry.subscription(
        description="The session's events. With afterSequence, every persisted message with a\n"
        "greater sequence is sent first (as MessageAdded), then live events follow,\n"
        "with no message missing and none sent twice. Without it, live events only."
    )
    async def session_events(
        self, info: Info, session_id: strawberry.ID, after_sequence: int | None = None
    ) -> AsyncGenerator[SessionEvent, None]:
        context = info.context
        principal = context.principal
        key = expect_global_id(session_id, "Session", field="sessionId")
        if after_sequence is not None and after_sequence < 0:
            raise BadUserInput("afterSequence must be 0 or more", field="afterSequence")
        services = context.services
        _take_slot(context)
        shared = None
        try:
            stream = SessionEventStream(
                services.db,
                services.broker,
                principal,
                key,
                after_sequence=after_sequence,
                queue_size=services.settings.subscription_queue_size,
            )
            # Live events go out answered once for every like subscriber (api/fanout.py);
            # replayed messages, errors and the end go through Strawberry as always.
            shared = shared_deliveries(info, ("sessionEvents", key), _event_root)
            async for delivery in stream.deliveries():
                services.metrics.observe_delivery(delivery.source)
                if shared is not None and delivery.live:
                    await shared.send(delivery)
                    continue
                built = session_event(delivery.event())
                if built is not None:
                    context.use_fresh_loaders()
                    yield built
        finally:
            if shared is not None:
                shared.leave()
            _free_slot(context)

    @strawberry.subscription(
        description="Status changes of every session the key can see (for session lists)."
    )
    async def session_updates(self, info: Info) -> AsyncGenerator[Session, None]:
        context = info.context
        principal = context.principal
        services = context.services
        _take_slot(context)
        try:
            async for row in session_updates(
                services.broker, principal, queue_size=services.settings.subscription_queue_size
            ):
                context.use_fresh_loaders()
                yield Session.from_row(row)
        finally:
            _free_slot(context)
