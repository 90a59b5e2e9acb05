"""Server configuration, read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting is documented in README.md; keep the two in step."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./data/graphql_api.db",
        description="SQLAlchemy URL; postgresql+asyncpg://... in production.",
    )
    redis_url: str | None = Field(default=None, description="Unset: in-process broker.")
    host: str = "127.0.0.1"
    port: int = 8000
    default_page_size: int = 20
    max_page_size: int = 100
    workspace_root: Path = Path("./workspaces")
    database_pool_size: int = 10
    auth_cache_seconds: float = Field(
        default=5.0, description="How long a verified API key is trusted without a lookup."
    )
    last_used_write_interval_seconds: float = 60.0
    agent_backend: Literal["auto", "claude", "demo"] = "auto"
    log_level: str = "INFO"
    sql_echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
