"""Which agent backend runs turns: AGENT_BACKEND=auto|claude|demo."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from graphql_api.agent.backend import AgentBackend
from graphql_api.settings import Settings

log = logging.getLogger("graphql_api.agent")

CREDENTIAL_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")


def has_claude_credentials() -> bool:
    return any(os.environ.get(name) for name in CREDENTIAL_VARIABLES)


def backend_name(settings: Settings) -> str:
    if settings.agent_backend != "auto":
        return settings.agent_backend
    if has_claude_credentials() or settings.claude_cli_path:
        return "claude"
    return "demo"


def create_backend(
    settings: Settings, session_store: Callable[[], Any] = lambda: None
) -> AgentBackend:
    """`session_store` is a factory: only the claude backend needs (and imports) one."""
    name = backend_name(settings)
    if name == "claude":
        from graphql_api.agent.claude import ClaudeBackend

        config_dir = settings.claude_config_dir or (settings.workspace_root.parent / "data" / "claude-config")
        config_dir = config_dir.resolve()
        config_dir.mkdir(parents=True, exist_ok=True)
        return ClaudeBackend(
            cli_path=settings.claude_cli_path,
            config_dir=config_dir,
            session_store=session_store(),
        )
    if settings.agent_backend == "auto":
        log.warning(
            "No Claude credentials (%s) configured: turns run on the offline demo agent. "
            "Set one of them, or AGENT_BACKEND=claude, to run Claude.",
            ", ".join(CREDENTIAL_VARIABLES),
        )
    from graphql_api.agent.demo import DemoBackend

    return DemoBackend()
