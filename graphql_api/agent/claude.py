"""The `claude` backend: one ClaudeSDKClient (one Claude Code process) per turn.

A process per turn keeps instances stateless: every turn resumes its agent session by id,
from the database-backed SessionStore, so any instance can run any session's next turn.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    UserMessage,
)
from claude_agent_sdk import (
    PermissionResultAllow,
    PermissionResultDeny,
    ToolPermissionContext,
)

from graphql_api.agent.backend import (
    AgentEvent,
    AgentFailure,
    AgentMessage,
    AgentResult,
    AgentStarted,
    TextDelta,
    TurnRequest,
)

log = logging.getLogger("graphql_api.agent.claude")

PERMISSION_MODES = {
    "DEFAULT": "default",
    "ACCEPT_EDITS": "acceptEdits",
    "PLAN": "plan",
    "BYPASS_PERMISSIONS": "bypassPermissions",
}


def block_to_dict(block: Any) -> dict[str, Any]:
    """SDK content blocks are dataclasses; store them in the Messages API's shape."""
    name = type(block).__name__
    if name == "TextBlock":
        return {"type": "text", "text": block.text}
    if name == "ThinkingBlock":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if name == "ToolUseBlock":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if name == "ToolResultBlock":
        return {
            "type": "tool_result",
            "tool_use_id": block.tool_use_id,
            "content": block.content,
            "is_error": bool(block.is_error),
        }
    if isinstance(block, dict):
        return block
    data = asdict(block) if is_dataclass(block) else {"value": repr(block)}
    return {"type": name, **data}


def translate(message: Any, prompt_uuid: str | None) -> AgentEvent | None:
    """One SDK message -> what the runner stores or streams (None: nothing to keep)."""
    if isinstance(message, StreamEvent):
        event = message.event
        delta = event.get("delta") or {}
        if event.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
            return TextDelta(delta.get("text", ""))
        return None
    if isinstance(message, SystemMessage):
        if message.subtype == "init" and message.data.get("session_id"):
            return AgentStarted(message.data["session_id"])
        return None
    if isinstance(message, AssistantMessage):
        content = [block_to_dict(b) for b in message.content]
        if message.error and not content:
            content = [{"type": "text", "text": f"[agent error: {message.error}]"}]
        return AgentMessage(
            "ASSISTANT", content, message.model, message.parent_tool_use_id, message.uuid
        )
    if isinstance(message, UserMessage):
        if prompt_uuid is not None and message.uuid == prompt_uuid:
            return None  # our own prompt, replayed; it is stored already
        content = message.content
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [
            block_to_dict(b) for b in content
        ]
        return AgentMessage("USER", blocks, None, message.parent_tool_use_id, message.uuid)
    if isinstance(message, ResultMessage):
        errors = list(message.errors or [])
        return AgentResult(
            is_error=message.is_error,
            subtype=message.subtype,
            result=message.result if message.result is not None else ("; ".join(errors) or None),
            duration_ms=message.duration_ms,
            num_turns=message.num_turns,
            cost_usd=message.total_cost_usd,
            usage=message.usage,
            structured_output=message.structured_output,
            agent_session_id=message.session_id,
            errors=errors,
            interrupted=message.terminal_reason in {"aborted_streaming", "aborted_tools"},
            user_message_uuid=getattr(message, "user_message_uuid", None),
        )
    return None


class ClaudeRun:
    def __init__(self, client: ClaudeSDKClient, request: TurnRequest, stderr: deque[str]) -> None:
        self.client = client
        self.request = request
        self.stderr = stderr

    async def events(self) -> AsyncIterator[AgentEvent]:
        try:
            async for message in self.client.receive_response():
                translated = translate(message, self.request.prompt_uuid)
                if translated is not None:
                    yield translated
        except Exception as error:  # noqa: BLE001 - the SDK raises plain Exceptions too
            raise AgentFailure(self._explain(error)) from error

    def _explain(self, error: Exception) -> str:
        text = str(error).split("\n")[0]
        if self.stderr:
            text += " | stderr: " + " ".join(self.stderr)[-500:]
        return text

    async def interrupt(self) -> None:
        await self.client.interrupt()

    async def set_permission_mode(self, mode: str) -> None:
        await self.client.set_permission_mode(PERMISSION_MODES.get(mode, mode))  # type: ignore[arg-type]

    async def set_model(self, model: str | None) -> None:
        await self.client.set_model(model)

    async def close(self) -> None:
        try:
            await self.client.disconnect()
        except Exception:  # noqa: BLE001 - a process that is gone needs no goodbye
            log.debug("disconnect failed", exc_info=True)


class ClaudeBackend:
    name = "claude"

    def __init__(
        self,
        *,
        cli_path: str | None = None,
        config_dir: Path | None = None,
        session_store: Any = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cli_path = cli_path
        self.config_dir = config_dir
        self.session_store = session_store
        self.env = env or {}

    def options(self, request: TurnRequest, stderr: deque[str]) -> ClaudeAgentOptions:
        opts = request.options
        env = dict(self.env)
        if self.config_dir is not None:
            env["CLAUDE_CONFIG_DIR"] = str(self.config_dir)
        checkpointing = bool(opts.get("enableFileCheckpointing"))
        kwargs: dict[str, Any] = {
            "cwd": str(request.workspace),
            "cli_path": self.cli_path,
            "env": env,
            "include_partial_messages": True,
            "resume": request.resume,
            "fork_session": request.fork,
            "resume_session_at": request.resume_at,
            "permission_mode": PERMISSION_MODES.get(opts.get("permissionMode") or "DEFAULT"),
            "model": request.model,
            "allowed_tools": list(opts.get("allowedTools") or []),
            "disallowed_tools": list(opts.get("disallowedTools") or []),
            "max_turns": opts.get("maxTurns"),
            "max_budget_usd": opts.get("maxBudgetUsd"),
            "mcp_servers": opts.get("mcpServers") or {},
            "enable_file_checkpointing": checkpointing,
            "stderr": stderr.append,
            # Only what the server configures reaches the agent: no user settings files.
            "setting_sources": [],
        }
        if opts.get("systemPrompt"):
            kwargs["system_prompt"] = opts["systemPrompt"]
        if opts.get("outputSchema"):
            kwargs["output_format"] = {"type": "json_schema", "schema": opts["outputSchema"]}
        if opts.get("agents"):
            from claude_agent_sdk import AgentDefinition

            kwargs["agents"] = {
                name: AgentDefinition(**definition) for name, definition in opts["agents"].items()
            }
        # The SDK refuses a session store together with file checkpointing: checkpointed
        # sessions keep their transcript in the (shared) config dir instead.
        if self.session_store is not None and not checkpointing:
            kwargs["session_store"] = self.session_store
        if request.on_approval is not None:
            on_approval = request.on_approval

            async def can_use_tool(
                tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
            ) -> PermissionResultAllow | PermissionResultDeny:
                decision = await on_approval(tool_name, tool_input, context.tool_use_id)
                if decision.allow:
                    return PermissionResultAllow(updated_input=decision.updated_input)
                return PermissionResultDeny(message=decision.message or "denied by the client")

            kwargs["can_use_tool"] = can_use_tool
        return ClaudeAgentOptions(**{k: v for k, v in kwargs.items() if v is not None})

    async def carry_transcript(self, request: TurnRequest) -> None:
        """A fork works in a copy of its parent's workspace, and Claude Code files transcripts
        by working directory: put the parent's transcript where the fork's resume looks."""
        if request.source_workspace is None or request.resume is None:
            return
        from claude_agent_sdk import project_key_for_directory

        source_key = project_key_for_directory(str(request.source_workspace))
        target_key = project_key_for_directory(str(request.workspace))
        if self.session_store is not None and not request.options.get("enableFileCheckpointing"):
            entries = await self.session_store.load({"project_key": source_key, "session_id": request.resume})
            if entries:
                await self.session_store.append(
                    {"project_key": target_key, "session_id": request.resume}, entries
                )
        if self.config_dir is not None:
            source = self.config_dir / "projects" / source_key / f"{request.resume}.jsonl"
            target = self.config_dir / "projects" / target_key / f"{request.resume}.jsonl"
            if source.exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(shutil.copyfile, source, target)

    async def start(self, request: TurnRequest) -> ClaudeRun:
        stderr: deque[str] = deque(maxlen=20)
        client = ClaudeSDKClient(self.options(request, stderr))
        try:
            if request.fork:
                await self.carry_transcript(request)
            await client.connect()
            await client.query(_prompt_stream(request))
        except Exception as error:  # noqa: BLE001
            try:
                await client.disconnect()
            except Exception:  # noqa: BLE001
                pass
            detail = str(error).split("\n")[0]
            if stderr:
                detail += " | stderr: " + " ".join(stderr)[-500:]
            raise AgentFailure(f"the agent could not start: {detail}") from error
        return ClaudeRun(client, request, stderr)

    async def rewind_files(self, request: TurnRequest, user_message_uuid: str) -> None:
        stderr: deque[str] = deque(maxlen=20)
        client = ClaudeSDKClient(self.options(request, stderr))
        try:
            await client.connect()
            await client.rewind_files(user_message_uuid)
        except Exception as error:  # noqa: BLE001
            raise AgentFailure(f"rewind failed: {str(error).splitlines()[0]}") from error
        finally:
            try:
                await asyncio.wait_for(client.disconnect(), 10)
            except Exception:  # noqa: BLE001
                pass


async def _prompt_stream(request: TurnRequest) -> AsyncIterator[dict[str, Any]]:
    """The prompt as one stream-json user message, carrying our uuid (the checkpoint id)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
    content.extend(request.images)
    message: dict[str, Any] = {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "session_id": "default",
    }
    if request.prompt_uuid:
        message["uuid"] = request.prompt_uuid
    yield message
