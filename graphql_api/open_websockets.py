"""The websockets open in this process, so that shutdown can close them all with 1001 (going
away): clients then reconnect, through the load balancer, to an instance that stays.

`OpenWebsockets.track(app)` wraps the websocket endpoint (an ASGI app). After we close a
connection, the app's own later frames (a subscription's last event, its close) are dropped:
the connection is gone for it, and the server's receive hands it the disconnect. A connection
accepted once closing began is closed right after its handshake, the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("graphql_api.websockets")

GOING_AWAY = 1001


class _Connection:
    def __init__(self, registry: OpenWebsockets, send: Any) -> None:
        self.registry = registry
        self._send = send
        self.accepted = False
        self.closed = False

    async def send(self, message: Any) -> None:
        """The app's send: passed on until the connection is closed (by the app or by us)."""
        if self.closed:
            return
        if message["type"] == "websocket.close":
            self.closed = True
        await self._send(message)
        if message["type"] == "websocket.accept":
            self.accepted = True
            if self.registry.closing:
                await self.close(self.registry.close_code, self.registry.close_reason)

    async def close(self, code: int, reason: str) -> None:
        if self.closed or not self.accepted:
            return  # not yet accepted: `send` closes it once the app accepts
        self.closed = True
        with contextlib.suppress(Exception):  # the client may be gone already
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


class OpenWebsockets:
    def __init__(self) -> None:
        self._open: set[_Connection] = set()
        self.closing = False
        self.close_code = GOING_AWAY
        self.close_reason = ""

    def __len__(self) -> int:
        return len(self._open)

    def track(self, app: Any) -> _Tracked:
        """`app` (a websocket ASGI endpoint) with its connections registered here."""
        return _Tracked(self, app)

    async def close_all(self, code: int = GOING_AWAY, reason: str = "server shutting down") -> int:
        """Close every open websocket (and any accepted from now on); how many were open."""
        self.closing, self.close_code, self.close_reason = True, code, reason
        connections = list(self._open)
        await asyncio.gather(*(c.close(code, reason) for c in connections))
        if connections:
            log.info("closed %d websockets with %d", len(connections), code)
        return len(connections)


class _Tracked:
    """An ASGI app, not a function, so Starlette's WebSocketRoute hands it the raw connection."""

    def __init__(self, registry: OpenWebsockets, app: Any) -> None:
        self.registry = registry
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        connection = _Connection(self.registry, send)
        self.registry._open.add(connection)
        try:
            await self.app(scope, receive, connection.send)
        finally:
            self.registry._open.discard(connection)
