"""Server configuration, read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
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
    database_pool_size: int = Field(
        default=20, description="PostgreSQL connections each instance keeps (BENCHMARKS.md, round 3)."
    )
    database_max_overflow: int = Field(
        default=0,
        description="Connections opened beyond the pool under bursts and closed again after use. "
        "0: requests wait for a pooled connection instead, which costs far less CPU than "
        "opening and closing connections under load (BENCHMARKS.md, round 3).",
    )
    auth_cache_seconds: float = Field(
        default=5.0, description="How long a verified API key is trusted without a lookup."
    )
    last_used_write_interval_seconds: float = 60.0
    agent_backend: Literal["auto", "claude", "demo"] = "auto"
    log_level: str = "INFO"
    sql_echo: bool = False

    # Agent turns
    claude_cli_path: str | None = Field(
        default=None, description="Run this Claude Code executable instead of the SDK's bundled one."
    )
    claude_config_dir: Path | None = Field(
        default=None, description="CLAUDE_CONFIG_DIR for the agent processes (their local transcripts)."
    )
    max_running_turns: int = Field(default=8, description="Turns one instance runs at once.")
    turn_lease_seconds: float = 30.0
    wait_timeout_seconds: float = 300.0
    default_approval_timeout_seconds: int = 300
    interrupt_grace_seconds: float = 5.0
    shutdown_drain_seconds: float = Field(
        default=20.0,
        ge=0,
        description="On SIGTERM, how long running turns may go on before they are interrupted.",
    )
    max_prompt_chars: int = 100_000
    max_images: int = 10
    max_image_bytes: int = 5 * 1024 * 1024
    max_budget_usd_limit: float = 100.0
    allow_bypass_permissions: bool = False
    allow_stdio_mcp_servers: bool = False

    # Webhooks
    webhook_allowed_hosts: str = Field(
        default="",
        description="Comma-separated host names, IPs or CIDRs that webhooks may reach although "
        "they are loopback/private/link-local (the SSRF guard refuses them otherwise).",
    )
    webhook_secret_keys: str = Field(
        default="",
        description="Comma-separated Fernet keys; when set, signing secrets are stored encrypted "
        "with the first (the others still decrypt, for rotation).",
    )
    webhook_delivery_enabled: bool = Field(
        default=True, description="Run the webhook deliverer in this instance."
    )
    webhook_max_attempts: int = 8
    webhook_backoff_base_seconds: float = Field(
        default=10.0, description="Delay before retry n is base * 2**(n-1), jittered, capped."
    )
    webhook_backoff_max_seconds: float = 3600.0
    webhook_request_timeout_seconds: float = 10.0
    webhook_claim_timeout_seconds: float = Field(
        default=60.0, description="A claimed delivery whose instance went silent is retried after this."
    )
    webhook_poll_interval_seconds: float = 1.0
    webhook_concurrency: int = Field(default=10, description="Deliveries one instance sends at once.")

    # Subscriptions (websockets)
    subscription_queue_size: int = Field(
        default=1000,
        ge=1,
        description="Events one subscriber may fall behind; then text deltas give way, and "
        "then the subscription ends with SLOW_CONSUMER.",
    )
    subscriptions_per_connection: int = Field(default=20, ge=1)
    subscriptions_per_key: int = Field(default=200, ge=1, description="Per instance.")
    ws_keep_alive_seconds: float = Field(
        default=15.0, ge=0, description="graphql-ws keep-alive ('ka') interval; 0 turns it off."
    )
    ws_connection_init_timeout_seconds: float = Field(
        default=10.0, gt=0, description="graphql-transport-ws closes 4408 without connection_init."
    )
    ws_per_message_deflate: bool = Field(
        default=False,
        description="Offer permessage-deflate on websockets. Off: its zlib state costs about "
        "37 KB per websocket (BENCHMARKS.md, section 5) and saves little on small event frames.",
    )
    subscription_shared_execution: bool = Field(
        default=True,
        description="Subscribers of a session with the same operation, variables and key share "
        "one execution and one serialized payload per live event (api/fanout.py).",
    )
    redis_channel_prefix: str = Field(
        default="", description="Prepended to every Redis channel (deployments sharing a Redis)."
    )

    # Query limits (api/query_limits.py): refused with QUERY_TOO_COMPLEX before execution
    max_query_bytes: int = Field(default=65_536, ge=1, description="Checked before parsing.")
    max_query_tokens: int = Field(default=2_000, ge=1)
    max_query_depth: int = Field(default=15, ge=1)
    max_aliases: int = Field(default=50, ge=0)
    max_query_cost: int = Field(
        default=50_000, ge=1, description="Fields an operation may resolve; first/last multiply."
    )
    allow_introspection: bool = True

    # Rate limits per API key (domain/rate_limits.py), "N/period" as the `limits` library reads it
    rate_limit_enabled: bool = True
    rate_limit_turns: str = Field(default="60/minute", description="sendMessage, createSession with a prompt.")
    rate_limit_mutations: str = Field(default="300/minute", description="Every other mutation.")
    rate_limit_reads: str = Field(default="3000/minute", description="Queries and subscription starts.")
    rate_limit_fail_open: bool = Field(
        default=True, description="Redis unreachable: allow (true) or refuse with RATE_LIMITED."
    )
    rate_limit_timeout_seconds: float = Field(default=0.5, gt=0)

    # Observability
    log_format: Literal["json", "text"] = Field(default="json", description="Log lines of `serve`.")
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")

    @field_validator("rate_limit_turns", "rate_limit_mutations", "rate_limit_reads")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # raises ValueError on anything it cannot read
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
