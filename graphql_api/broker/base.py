"""The broker contract: publish(channel, event) / subscribe(channel) with bounded queues."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol

from graphql_api.domain.events import DROPPABLE


class SubscriberOverflow(Exception):
    """A subscriber fell behind on events that must not be lost; it must resume from storage."""


class Subscription:
    """One subscriber's bounded queue. When it is full, droppable events (text deltas) are
    dropped; when a persisted event would be dropped, the subscription ends with
    SubscriberOverflow so the client can resume from its last sequence."""

    def __init__(self, channel: str, maxsize: int, on_close: Any = None) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self.maxsize = maxsize
        self.dropped = 0
        self.overflowed = False
        self.closed = False
        self._on_close = on_close

    def deliver(self, event: dict[str, Any]) -> None:
        """Called by the broker for each event; never blocks."""
        if self.closed or self.overflowed:
            return
        if self.queue.qsize() >= self.maxsize:
            if event.get("type") in DROPPABLE:
                self.dropped += 1
                return
            self.overflowed = True
            self.queue.put_nowait(SubscriberOverflow(self.channel))
            return
        self.queue.put_nowait(event)

    def fail(self, error: BaseException) -> None:
        """End the subscription with an error (e.g. the broker lost its connection)."""
        if not self.closed:
            self.queue.put_nowait(error)

    async def get(self) -> dict[str, Any]:
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.get()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._on_close is not None:
                await self._on_close(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class EventBroker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, event: dict[str, Any]) -> None: ...

    async def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        """Registered before this returns: every event published afterwards is delivered."""
        ...

    async def ping(self) -> None: ...
