"""The long-lived objects of one server process, built once and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass

from graphql_api.domain.api_keys import ApiKeyService
from graphql_api.settings import Settings
from graphql_api.store.database import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    api_keys: ApiKeyService

    @classmethod
    def create(cls, settings: Settings) -> Services:
        db = Database(settings.database_url, pool_size=settings.database_pool_size, echo=settings.sql_echo)
        api_keys = ApiKeyService(
            db,
            cache_seconds=settings.auth_cache_seconds,
            touch_interval=settings.last_used_write_interval_seconds,
        )
        return cls(settings=settings, db=db, api_keys=api_keys)

    async def close(self) -> None:
        await self.db.dispose()

    @property
    def agent_backend_name(self) -> str:
        """Which backend runs turns; the agent issue decides between claude and demo."""
        return "claude" if self.settings.agent_backend == "claude" else "demo"
