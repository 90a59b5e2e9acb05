"""The in-process broker (embedded mode): one instance, no network."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from graphql_api.broker.base import Subscription


class InProcessBroker:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._subscribers.clear()

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.deliver(event)

    async def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        subscription = Subscription(channel, maxsize, on_close=self._remove)
        self._subscribers[channel].add(subscription)
        return subscription

    async def _remove(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.channel]

    async def ping(self) -> None:
        return None

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())
