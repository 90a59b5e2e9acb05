"""The broker contract: publish(channel, event) / subscribe(channel) with bounded queues."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, Self

from graphql_api.domain.events import DROPPABLE, TEXT_DELTA

#: A merged text delta stops growing here; later deltas of the turn are dropped instead.
MAX_MERGED_DELTA_CHARS = 64 * 1024


class SubscriberOverflow(Exception):
    """A subscriber fell behind on events that must not be lost; it must resume from storage."""


class Subscription:
    """One subscriber's bounded queue, filled by the broker and drained by one reader.

    When it is full, droppable events (text deltas) give way first: a new delta is merged into
    the queued delta of the same turn or dropped, and a persisted event evicts the oldest queued
    delta. Only when a persisted event finds no delta to evict does the subscription overflow:
    the reader then gets SubscriberOverflow at once, so the client resumes from storage instead
    of the server buffering without bound.
    """

    def __init__(
        self,
        channel: str,
        maxsize: int,
        on_close: Callable[[Subscription], Awaitable[None]] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("a subscription queue holds at least one event")
        self.channel = channel
        self.maxsize = maxsize
        self.dropped = 0
        self.overflowed = False
        self.closed = False
        self._items: deque[dict[str, Any]] = deque()
        self._droppable = 0
        self._error: BaseException | None = None
        #: The reader's wake-up while it waits (a future made per wait: an idle subscriber
        #: holds one small future, not an asyncio.Event and its deque of waiters).
        self._waiter: asyncio.Future[None] | None = None
        self._on_close = on_close

    @property
    def pending(self) -> int:
        """Events queued and not yet read."""
        return len(self._items)

    def deliver(self, event: dict[str, Any]) -> None:
        """Called by the broker for each event; never blocks. `event` may be shared with other
        subscribers, so it is never modified in place."""
        if self.closed or self._error is not None:
            return
        droppable = event.get("type") in DROPPABLE
        if len(self._items) >= self.maxsize:
            if droppable:
                if not self._merge_delta(event):
                    self.dropped += 1
                return
            if not self._evict_droppable():
                self.overflowed = True
                self._fail(SubscriberOverflow(self.channel))
                return
        self._items.append(event)
        self._droppable += droppable
        self._wake()

    def fail(self, error: BaseException) -> None:
        """End the subscription with an error (e.g. the broker lost its connection)."""
        if not self.closed and self._error is None:
            self._fail(error)

    async def get(self) -> dict[str, Any]:
        while True:
            if self._error is not None:
                raise self._error
            if self._items:
                event = self._items.popleft()
                self._droppable -= event.get("type") in DROPPABLE
                return event
            self._waiter = waiter = asyncio.get_running_loop().create_future()
            await waiter

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.get()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._items.clear()
            if self._on_close is not None:
                await self._on_close(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _fail(self, error: BaseException) -> None:
        # Fail fast: what is still queued would only delay the resume the client must do.
        self._error = error
        self._items.clear()
        self._droppable = 0
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():  # (cancelled with its reader)
                waiter.set_result(None)

    def _merge_delta(self, event: dict[str, Any]) -> bool:
        if event.get("type") != TEXT_DELTA or not self._items:
            return False
        last = self._items[-1]
        if last.get("type") != TEXT_DELTA or last.get("turn_id") != event.get("turn_id"):
            return False
        text = str(last.get("text", "")) + str(event.get("text", ""))
        if len(text) > MAX_MERGED_DELTA_CHARS:
            return False
        self._items[-1] = {**event, "text": text}
        return True

    def _evict_droppable(self) -> bool:
        if not self._droppable:
            return False
        for item in self._items:
            if item.get("type") in DROPPABLE:
                self._items.remove(item)
                self._droppable -= 1
                self.dropped += 1
                return True
        return False  # pragma: no cover - the count says there is one


class EventBroker(Protocol):
    """Pub/sub of JSON-able events on named channels (`domain.events` names them)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, event: dict[str, Any]) -> None: ...

    async def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        """Registered before this returns: every event published afterwards is delivered."""
        ...

    async def ping(self) -> None: ...
