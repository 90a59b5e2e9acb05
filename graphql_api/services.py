"""The long-lived objects of one server process, built once and shared by every request."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from graphql_api.agent.runner import TurnRunner
from graphql_api.agent.selection import create_backend
from graphql_api.agent.workspaces import Workspaces
from graphql_api.broker import EventBroker, InProcessBroker
from graphql_api.domain.api_keys import ApiKeyService
from graphql_api.domain.approvals import ApprovalService
from graphql_api.domain.rate_limits import RateLimiter
from graphql_api.domain.sessions import SessionService
from graphql_api.domain.turns import TurnService
from graphql_api.domain.webhook_delivery import WebhookDeliverer
from graphql_api.observability.metrics import ServerMetrics
from graphql_api.open_websockets import OpenWebsockets
from graphql_api.settings import Settings
from graphql_api.store.database import Database
from graphql_api.store.webhooks import enqueue_session_event


def create_broker(settings: Settings) -> EventBroker:
    """Redis pub/sub when REDIS_URL is set, else the in-process broker."""
    if settings.redis_url:
        from graphql_api.broker.redis import RedisBroker

        return RedisBroker(settings.redis_url, channel_prefix=settings.redis_channel_prefix)
    return InProcessBroker()


def create_session_store(db: Database) -> Any:
    """Agent transcripts in the database, so any instance can resume any session."""
    from graphql_api.store.transcripts import DatabaseSessionStore

    return DatabaseSessionStore(db)


@dataclass
class Services:
    settings: Settings
    db: Database
    api_keys: ApiKeyService
    broker: EventBroker
    runner: TurnRunner
    sessions: SessionService
    turns: TurnService
    approvals: ApprovalService
    instance_id: str
    #: Background workers started with the app (turn runner, webhook deliverer ...): each has
    #: `async start()` and `async stop()`.
    workers: list[Any] = field(default_factory=list)
    #: Budgets per API key (None: RATE_LIMIT_ENABLED=false).
    rate_limiter: RateLimiter | None = None
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    #: The websockets open here, closed with 1001 when the process shuts down.
    websockets: OpenWebsockets = field(default_factory=OpenWebsockets)
    #: Set when shutdown began (graphql_api/shutdown.py): /readyz answers 503, turns are refused.
    draining: bool = False

    @classmethod
    def create(cls, settings: Settings) -> Services:
        db = Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            echo=settings.sql_echo,
        )
        api_keys = ApiKeyService(
            db,
            cache_seconds=settings.auth_cache_seconds,
            touch_interval=settings.last_used_write_interval_seconds,
        )
        broker = create_broker(settings)
        instance_id = f"{socket.gethostname()}:{os.getpid()}:{id(db):x}"
        runner = TurnRunner(
            db=db,
            broker=broker,
            backend=create_backend(settings, lambda: create_session_store(db)),
            settings=settings,
            instance_id=instance_id,
            outbox=enqueue_session_event,
        )
        workspaces = Workspaces(settings.workspace_root)
        services = cls(
            settings=settings,
            db=db,
            api_keys=api_keys,
            broker=broker,
            runner=runner,
            sessions=SessionService(db, settings, runner, workspaces),
            turns=TurnService(db, broker, settings, runner),
            approvals=ApprovalService(db, runner),
            instance_id=instance_id,
            workers=[runner],
            rate_limiter=RateLimiter.from_settings(settings) if settings.rate_limit_enabled else None,
        )
        if settings.webhook_delivery_enabled:
            services.workers.append(
                WebhookDeliverer.from_settings(db, settings, instance_id=instance_id)
            )
        return services

    async def start(self) -> None:
        await self.broker.start()
        for worker in self.workers:
            await worker.start()

    async def close(self) -> None:
        for worker in reversed(self.workers):
            await worker.stop()
        await self.broker.stop()
        if self.rate_limiter is not None:
            await self.rate_limiter.close()
        await self.api_keys.flush()
        await self.db.dispose()

    @property
    def agent_backend_name(self) -> str:
        return self.runner.backend.name
