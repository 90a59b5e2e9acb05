"""Test doubles for the Anthropic boundary.

- ``standin_cli.py``: a stdlib-only stand-in for the Claude Code CLI, passed as
  ``ClaudeAgentOptions(cli_path=standin_cli_path())`` (fast tier).
- ``fake_messages_api.py``: a local fake of the Anthropic Messages API for the
  real bundled CLI, via ``ANTHROPIC_BASE_URL`` (real tier).

Each module's docstring documents its scripting directives.
"""

from pathlib import Path

__all__ = ["bundled_cli_path", "standin_cli_path"]


def standin_cli_path() -> str:
    """Absolute path of the executable stand-in CLI script."""
    return str((Path(__file__).parent / "standin_cli.py").resolve())


def bundled_cli_path() -> str | None:
    """Path of the real Claude Code CLI bundled in the claude-agent-sdk wheel, if present."""
    import claude_agent_sdk

    path = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return str(path) if path.is_file() else None
