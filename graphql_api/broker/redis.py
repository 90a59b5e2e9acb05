"""The Redis broker (production): events fan out to every instance through Redis pub/sub.

Each instance holds one pooled client for PUBLISH and ONE pub/sub connection shared by all its
local subscribers: a Redis channel is subscribed while at least one local subscriber wants it.
A reader task dispatches incoming messages to the local subscriptions; a writer task is the
only one that writes to the pub/sub connection, so a cancelled caller can never leave half a
command on it. If the connection is lost, every local subscription fails with
BrokerUnavailable (its client resumes with `afterSequence`) and the broker reconnects in the
background; nothing is silently resubscribed, because events published meanwhile are gone.

While Redis is known to be away, callers are not kept waiting: a subscribe fails at once when
the last connection attempt was refused (instead of waiting `subscribe_timeout` for a
reconnect), and after a failed PUBLISH the next ones fail at once for
PUBLISH_PAUSE_SECONDS, so a turn publishing many events is not slowed by one connect timeout
per event. Events are news (stored messages are the truth), so dropping them costs nothing a
resume does not recover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from graphql_api.broker.base import Subscription
from graphql_api.domain.errors import BrokerUnavailable
from graphql_api.domain.events import decode, encode

log = logging.getLogger("graphql_api.broker.redis")

Command = tuple[str, ...]

#: After a PUBLISH failed, how long later ones fail at once without trying Redis.
PUBLISH_PAUSE_SECONDS = 1.0


class _ConnectionLost(Exception):
    """The pub/sub connection stopped answering (no pong in time)."""


@dataclass
class _Channel:
    """The local subscribers of one channel and Redis's confirmation of its SUBSCRIBE."""

    confirmed: asyncio.Future[None]
    subscribers: set[Subscription] = field(default_factory=set)


class RedisBroker:
    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "",
        health_check_interval: float = 5.0,
        subscribe_timeout: float = 5.0,
        reconnect_delay_max: float = 2.0,
    ) -> None:
        self.url = url
        #: Prepended to every Redis channel name, so deployments (or test runs) can share a Redis.
        self.channel_prefix = channel_prefix
        self.health_check_interval = health_check_interval
        self.subscribe_timeout = subscribe_timeout
        self.reconnect_delay_max = reconnect_delay_max
        self._publisher: Redis | None = None
        self._channels: dict[str, _Channel] = {}
        self._acks: dict[str, deque[asyncio.Future[None]]] = {}
        self._outbox: asyncio.Queue[Command] | None = None
        self._pong = asyncio.Event()
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        #: The last attempt to connect the pub/sub connection failed (Redis is away).
        self._unreachable = False
        #: Set (and replaced) after every connection attempt, so waiters learn its outcome.
        self._attempted = asyncio.Event()
        self._publish_paused_until = 0.0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._stopping = False
        self._publisher = Redis.from_url(
            self.url,
            socket_connect_timeout=2.0,
            health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        )
        self._supervisor = asyncio.create_task(self._run(), name="redis-broker")

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        self._fail_all(BrokerUnavailable("the event broker stopped"))
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None

    # ------------------------------------------------------------------ the contract

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        if self._publisher is None:
            raise BrokerUnavailable("the event broker is not running")
        if time.monotonic() < self._publish_paused_until:
            raise BrokerUnavailable("could not publish to the event broker (it is unavailable)")
        try:
            await self._publisher.publish(self.channel_prefix + channel, encode(event))
        except (RedisError, OSError) as error:
            self._publish_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
            raise BrokerUnavailable("could not publish to the event broker") from error

    async def subscribe(self, channel: str, maxsize: int = 1000) -> Subscription:
        """Returns once Redis has confirmed the SUBSCRIBE, so nothing published later is missed."""
        await self._wait_connected()
        outbox = self._outbox
        assert outbox is not None
        subscription = Subscription(channel, maxsize, on_close=self._release)
        entry = self._channels.get(channel)
        if entry is None:
            entry = _Channel(confirmed=asyncio.get_running_loop().create_future())
            self._channels[channel] = entry
            self._acks.setdefault(channel, deque()).append(entry.confirmed)
            outbox.put_nowait(("SUBSCRIBE", self.channel_prefix + channel))
        entry.subscribers.add(subscription)
        try:
            await asyncio.wait_for(asyncio.shield(entry.confirmed), self.subscribe_timeout)
        except BaseException as error:
            await subscription.close()
            if isinstance(error, asyncio.TimeoutError):
                raise BrokerUnavailable("the event broker did not confirm a subscription") from None
            raise
        return subscription

    async def ping(self) -> None:
        """For /readyz: both connections must work."""
        if self._publisher is None or not self._connected.is_set():
            raise BrokerUnavailable("the pub/sub connection to the event broker is down")
        await asyncio.wait_for(self._publisher.ping(), timeout=2.0)

    def subscriber_count(self) -> int:
        return sum(len(entry.subscribers) for entry in self._channels.values())

    def channel_count(self) -> int:
        """Redis channels this instance is subscribed to (one per channel, however many local
        subscribers share it)."""
        return len(self._channels)

    # ------------------------------------------------------------------ local bookkeeping

    async def _wait_connected(self) -> None:
        if self._supervisor is None or self._stopping:
            raise BrokerUnavailable("the event broker is not running")
        if self._connected.is_set():
            return
        if not self._unreachable:
            # A (re)connection is under way: wait for how it ends. After a failed attempt
            # (Redis is away) there is no use waiting for the next one: fail at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attempted.wait(), self.subscribe_timeout)
        if not self._connected.is_set():
            raise BrokerUnavailable("the event broker is unavailable")

    async def _release(self, subscription: Subscription) -> None:
        entry = self._channels.get(subscription.channel)
        if entry is None or subscription not in entry.subscribers:
            return  # failed with an older connection, or never registered
        entry.subscribers.discard(subscription)
        if not entry.subscribers:
            del self._channels[subscription.channel]
            if self._outbox is not None:
                self._outbox.put_nowait(("UNSUBSCRIBE", self.channel_prefix + subscription.channel))

    def _fail_all(self, error: BrokerUnavailable) -> None:
        """The connection is gone: every local subscriber must resume from storage."""
        channels, self._channels = self._channels, {}
        acks, self._acks = self._acks, {}
        for pending in acks.values():
            for ack in pending:
                if not ack.done():
                    ack.set_exception(error)
                    ack.exception()  # retrieved: a waiter may have given up already
        for entry in channels.values():
            for subscription in entry.subscribers:
                subscription.fail(error)

    # ------------------------------------------------------------------ the connection

    async def _run(self) -> None:
        """Connect, serve until the connection is lost, fail the subscribers, reconnect."""
        delay = 0.05
        while not self._stopping:
            try:
                conn = await self._connect()
            except (RedisError, OSError) as error:
                self._unreachable = True
                self._attempted.set()
                self._attempted = asyncio.Event()
                log.warning("cannot reach Redis for pub/sub (%s); retrying in %.2fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_delay_max)
                continue
            delay = 0.05
            self._unreachable = False
            self._publish_paused_until = 0.0  # Redis answers again
            self._outbox = asyncio.Queue()
            self._connected.set()
            self._attempted.set()
            self._attempted = asyncio.Event()
            log.info("pub/sub connection to Redis is up")
            try:
                await self._serve(conn, self._outbox)
            except (RedisError, OSError, _ConnectionLost) as error:
                log.warning("lost the pub/sub connection to Redis: %s", error)
            finally:
                self._connected.clear()
                self._outbox = None
                with contextlib.suppress(Exception):
                    await conn.disconnect(nowait=True)
                self._fail_all(BrokerUnavailable("lost the connection to the event broker"))

    async def _connect(self) -> AbstractConnection:
        # RESP2: pub/sub messages arrive as plain replies (RESP3 would route them to push
        # handlers). No socket timeout: an idle channel is normal; the health check finds the dead.
        pool = ConnectionPool.from_url(
            self.url,
            protocol=2,
            socket_timeout=None,
            socket_connect_timeout=2.0,
            socket_keepalive=True,
        )
        conn = pool.make_connection()
        await conn.connect()
        return conn

    async def _serve(self, conn: AbstractConnection, outbox: asyncio.Queue[Command]) -> None:
        """Reader, writer and health check run until one of them fails."""
        tasks = [
            asyncio.create_task(self._read(conn), name="redis-broker-reader"),
            asyncio.create_task(self._write(conn, outbox), name="redis-broker-writer"),
            asyncio.create_task(self._check_health(outbox), name="redis-broker-health"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def _write(self, conn: AbstractConnection, outbox: asyncio.Queue[Command]) -> None:
        while True:
            command = await outbox.get()
            await conn.send_command(*command, check_health=False)

    async def _check_health(self, outbox: asyncio.Queue[Command]) -> None:
        """A PING every interval; no answer within another interval means a dead connection
        (a half-open TCP connection would otherwise look idle forever)."""
        while True:
            await asyncio.sleep(self.health_check_interval)
            self._pong.clear()
            outbox.put_nowait(("PING",))
            try:
                await asyncio.wait_for(self._pong.wait(), self.health_check_interval)
            except TimeoutError:
                raise _ConnectionLost("no answer to PING") from None

    async def _read(self, conn: AbstractConnection) -> None:
        prefix = len(self.channel_prefix)
        while True:
            reply = await conn.read_response()
            if not isinstance(reply, list) or not reply:
                if reply in (b"PONG", "PONG"):
                    self._pong.set()
                continue
            kind = _text(reply[0])
            if kind == "message":
                self._dispatch(_text(reply[1])[prefix:], reply[2])
            elif kind == "subscribe":
                self._confirm(_text(reply[1])[prefix:])
            elif kind == "pong":
                self._pong.set()

    def _confirm(self, channel: str) -> None:
        # Redis answers SUBSCRIBEs in the order they were sent, so the oldest waiting ack is it.
        pending = self._acks.get(channel)
        if not pending:
            return
        ack = pending.popleft()
        if not pending:
            del self._acks[channel]
        if not ack.done():
            ack.set_result(None)

    def _dispatch(self, channel: str, data: bytes | str) -> None:
        entry = self._channels.get(channel)
        if entry is None:
            return
        try:
            event = decode(data)
        except ValueError:
            log.warning("ignored a malformed event on %s", channel)
            return
        for subscription in list(entry.subscribers):
            subscription.deliver(event)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
