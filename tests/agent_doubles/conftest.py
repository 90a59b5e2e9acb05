"""Fixtures for the agent-double tests: a private config dir and workspace per test."""

from pathlib import Path

import pytest


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """CLAUDE_CONFIG_DIR for the CLI under test, so nothing touches ~/.claude."""
    path = tmp_path / "claude-config"
    path.mkdir()
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The agent's working directory (ClaudeAgentOptions.cwd)."""
    path = tmp_path / "workspace"
    path.mkdir()
    return path.resolve()
