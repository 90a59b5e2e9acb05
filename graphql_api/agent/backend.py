"""What a turn needs from an agent, whichever agent it is (the Claude Agent SDK, or the demo).

A backend opens one `AgentRun` per turn; the run yields `AgentEvent`s in order and accepts
commands (interrupt, permission mode, model) from another task while it streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ToolDecision:
    allow: bool
    message: str | None = None
    updated_input: dict[str, Any] | None = None


#: (tool name, input, tool use id) -> the client's decision
ApprovalCallback = Callable[[str, dict[str, Any], str | None], Awaitable[ToolDecision]]


@dataclass(slots=True)
class TurnRequest:
    """Everything one turn runs with; built by the runner from the session and turn rows."""

    session_id: str
    turn_id: str
    prompt: str
    images: list[dict[str, Any]]
    options: dict[str, Any]
    model: str | None
    workspace: Path
    resume: str | None = None
    fork: bool = False
    resume_at: str | None = None
    #: For a fork's first turn: the parent's workspace, whose agent transcript is resumed.
    source_workspace: Path | None = None
    prompt_uuid: str | None = None
    on_approval: ApprovalCallback | None = None


# --- what a run yields ------------------------------------------------------------------


@dataclass(slots=True)
class AgentStarted:
    agent_session_id: str


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class AgentMessage:
    """A message to store: role USER | ASSISTANT | SYSTEM, content as Claude-format blocks."""

    role: str
    content: list[dict[str, Any]]
    model: str | None = None
    parent_tool_use_id: str | None = None
    uuid: str | None = None


@dataclass(slots=True)
class AgentResult:
    is_error: bool
    subtype: str
    result: str | None = None
    duration_ms: int | None = None
    num_turns: int | None = None
    cost_usd: float | None = None
    usage: dict[str, Any] | None = None
    structured_output: Any = None
    agent_session_id: str | None = None
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    user_message_uuid: str | None = None


AgentEvent = AgentStarted | TextDelta | AgentMessage | AgentResult


class AgentRun(Protocol):
    def events(self) -> AsyncIterator[AgentEvent]: ...

    async def interrupt(self) -> None: ...

    async def set_permission_mode(self, mode: str) -> None: ...

    async def set_model(self, model: str | None) -> None: ...

    async def close(self) -> None: ...


class AgentBackend(Protocol):
    name: str

    async def start(self, request: TurnRequest) -> AgentRun:
        """Connect and send the prompt; raises AgentFailure when the agent cannot start."""
        ...

    async def rewind_files(self, request: TurnRequest, user_message_uuid: str) -> None: ...


class AgentFailure(Exception):
    """The agent could not run (missing CLI, crash, connection lost): a readable message."""
