"""The long-lived objects of one server process, built once and shared by every request."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from graphql_api.broker import EventBroker, InProcessBroker
from graphql_api.domain.api_keys import ApiKeyService
from graphql_api.settings import Settings
from graphql_api.store.database import Database


def create_broker(settings: Settings) -> EventBroker:
    """Redis pub/sub when REDIS_URL is set, else the in-process broker."""
    if settings.redis_url:
        from graphql_api.broker.redis import RedisBroker

        return RedisBroker(settings.redis_url)
    return InProcessBroker()


@dataclass
class Services:
    settings: Settings
    db: Database
    api_keys: ApiKeyService
    broker: EventBroker
    instance_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    #: Background workers started with the app (turn runner, webhook deliverer ...): each has
    #: `async start()` and `async stop()`.
    workers: list[Any] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        db = Database(
            settings.database_url, pool_size=settings.database_pool_size, echo=settings.sql_echo
        )
        api_keys = ApiKeyService(
            db,
            cache_seconds=settings.auth_cache_seconds,
            touch_interval=settings.last_used_write_interval_seconds,
        )
        return cls(settings=settings, db=db, api_keys=api_keys, broker=create_broker(settings))

    async def start(self) -> None:
        await self.broker.start()
        for worker in self.workers:
            await worker.start()

    async def close(self) -> None:
        for worker in reversed(self.workers):
            await worker.stop()
        await self.broker.stop()
        await self.api_keys.flush()
        await self.db.dispose()

    @property
    def agent_backend_name(self) -> str:
        """Which backend runs turns; the agent issue decides between claude and demo."""
        return "claude" if self.settings.agent_backend == "claude" else "demo"
