"""How many live subscriptions a connection and an API key may hold on this instance.

A subscription holds a broker queue and a websocket task for as long as it lives, so the
number is capped like every other resource. Going past a cap fails that one subscription with
RATE_LIMITED (the connection and its other subscriptions go on); the error says which cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from uuid import UUID

from graphql_api.domain.errors import RateLimited

if TYPE_CHECKING:
    from graphql_api.api.context import RequestContext


class SubscriptionSlots:
    """Counts live subscriptions per API key (this instance); the per-connection count lives on
    the connection's context, which a websocket keeps for its whole life."""

    def __init__(self, *, per_connection: int, per_key: int) -> None:
        self.per_connection = per_connection
        self.per_key = per_key
        self._by_key: Counter[UUID] = Counter()

    def held_by(self, key_id: UUID) -> int:
        return self._by_key[key_id]

    @contextmanager
    def hold(self, context: RequestContext) -> Iterator[None]:
        """One slot for as long as the subscription runs."""
        self.acquire(context)
        try:
            yield
        finally:
            self.release(context)

    def acquire(self, context: RequestContext) -> None:
        """Takes a slot, or raises RATE_LIMITED; give it back with `release` (a live
        subscription holds no context manager: thousands of them add up)."""
        key_id = context.principal.key_id
        if context.live_subscriptions >= self.per_connection:
            raise RateLimited(
                f"this connection already has {self.per_connection} subscriptions",
                limit=self.per_connection,
                scope="connection",
            )
        if self._by_key[key_id] >= self.per_key:
            raise RateLimited(
                f"this API key already has {self.per_key} subscriptions",
                limit=self.per_key,
                scope="apiKey",
            )
        context.live_subscriptions += 1
        self._by_key[key_id] += 1

    def release(self, context: RequestContext) -> None:
        key_id = context.principal.key_id
        context.live_subscriptions -= 1
        self._by_key[key_id] -= 1
        if self._by_key[key_id] <= 0:
            del self._by_key[key_id]
