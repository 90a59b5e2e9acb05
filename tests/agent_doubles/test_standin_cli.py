"""The real claude-agent-sdk driven against the stand-in CLI.

These tests pin down both the stand-in's behaviour and how the SDK surfaces
each outcome (which messages, which exceptions), for the server's turn runner.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    CLIConnectionError,
    CLINotFoundError,
    InMemorySessionStore,
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    ProcessError,
    ResultError,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolPermissionContext,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    project_key_for_directory,
    query,
)
from claude_agent_sdk.types import SessionKey

from . import standin_cli_path

STANDIN = standin_cli_path()


def options(workspace: Path, config_dir: Path, **overrides: Any) -> ClaudeAgentOptions:
    env = {"CLAUDE_CONFIG_DIR": str(config_dir), **overrides.pop("env", {})}
    base: dict[str, Any] = {
        "cli_path": STANDIN,
        "cwd": str(workspace),
        "include_partial_messages": True,
        "env": env,
    }
    return ClaudeAgentOptions(**{**base, **overrides})


async def ask(client: ClaudeSDKClient, prompt: Any) -> list[Message]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


def result_of(messages: list[Message]) -> ResultMessage:
    assert isinstance(messages[-1], ResultMessage), messages[-1]
    return messages[-1]


def texts(messages: list[Message]) -> list[str]:
    return [
        block.text
        for m in messages
        if isinstance(m, AssistantMessage)
        for block in m.content
        if isinstance(block, TextBlock)
    ]


def prompt_with_uuid(text: str, prompt_uuid: str) -> AsyncIterator[dict[str, Any]]:
    async def messages() -> AsyncIterator[dict[str, Any]]:
        yield {
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": None,
            "uuid": prompt_uuid,
        }

    return messages()


# --------------------------------------------------------------------------- conversation


@pytest.mark.asyncio
async def test_multi_turn_conversation_recalls_earlier_prompts(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        first = await ask(client, "my name is Bob")
        second = await ask(client, "I like tea")
        third = await ask(client, "!recall")

    assert texts(first) == ["Echo: my name is Bob"]
    assert texts(third) == ["Earlier prompts:\n1. my name is Bob\n2. I like tea"]
    session_ids = {result_of(m).session_id for m in (first, second, third)}
    assert len(session_ids) == 1

    init = next(m for m in first if isinstance(m, SystemMessage) and m.subtype == "init")
    assert init.data["session_id"] in session_ids
    assert init.data["claude_code_version"] == "2.1.332"
    assert init.data["cwd"] == str(workspace)

    deltas = [
        m.event["delta"]["text"]
        for m in first
        if isinstance(m, StreamEvent) and m.event["type"] == "content_block_delta"
    ]
    assert len(deltas) == 3 and "".join(deltas) == "Echo: my name is Bob"
    kinds = [m.event["type"] for m in first if isinstance(m, StreamEvent)]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]

    result = result_of(first)
    assert (result.subtype, result.is_error, result.result) == (
        "success",
        False,
        "Echo: my name is Bob",
    )
    assert result.num_turns == 1 and result.usage and result.usage["output_tokens"] > 0
    # total_cost_usd is cumulative for the CLI process, as with the real CLI.
    assert result.total_cost_usd == pytest.approx(0.001)
    assert result_of(third).total_cost_usd == pytest.approx(0.003)


@pytest.mark.asyncio
async def test_resume_in_a_new_client_keeps_the_session(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        session_id = result_of(await ask(client, "remember the word kiwi")).session_id

    async with ClaudeSDKClient(options(workspace, config_dir, resume=session_id)) as client:
        messages = await ask(client, "!recall")

    assert result_of(messages).session_id == session_id
    assert texts(messages) == ["Earlier prompts:\n1. remember the word kiwi"]
    project = config_dir / "projects" / project_key_for_directory(workspace)
    assert (project / f"{session_id}.jsonl").is_file()


@pytest.mark.asyncio
async def test_fork_session_gets_a_new_id_and_keeps_history(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        original = result_of(await ask(client, "first prompt")).session_id

    forked_options = options(workspace, config_dir, resume=original, fork_session=True)
    async with ClaudeSDKClient(forked_options) as client:
        messages = await ask(client, "!recall")
    forked = result_of(messages).session_id

    assert forked != original
    uuid.UUID(forked)
    assert texts(messages) == ["Earlier prompts:\n1. first prompt"]

    async with ClaudeSDKClient(options(workspace, config_dir, resume=original)) as client:
        assert texts(await ask(client, "!recall")) == ["Earlier prompts:\n1. first prompt"]


@pytest.mark.asyncio
async def test_resume_from_session_store_on_an_empty_config_dir(workspace, tmp_path):
    """Two 'machines' share only the store: the second has an empty config dir."""
    store = InMemorySessionStore()
    machine_a, machine_b = tmp_path / "a", tmp_path / "b"
    machine_a.mkdir()
    machine_b.mkdir()

    async with ClaudeSDKClient(options(workspace, machine_a, session_store=store)) as client:
        session_id = result_of(await ask(client, "the secret is 42")).session_id
        await ask(client, "!subagent look around")

    key: SessionKey = {
        "project_key": project_key_for_directory(workspace),
        "session_id": session_id,
    }
    mirrored = await store.load(key)
    assert mirrored and [e["type"] for e in mirrored][:2] == ["user", "assistant"]

    resumed = options(workspace, machine_b, session_store=store, resume=session_id)
    async with ClaudeSDKClient(resumed) as client:
        messages = await ask(client, "!recall")

    assert texts(messages) == ["Earlier prompts:\n1. the secret is 42\n2. !subagent look around"]
    assert result_of(messages).session_id == session_id
    # Subagent transcripts are mirrored under a subpath of the session.
    subkeys = await store.list_subkeys(key)
    assert len(subkeys) == 1 and subkeys[0].startswith("subagents/agent-")
    # The SDK materialised the store into a temp dir; machine B's own dir stays empty.
    assert list(machine_b.iterdir()) == []
    # The resumed turn was mirrored back, appended after the first turn's entries.
    grown = await store.load(key)
    assert grown is not None and len(grown) > len(mirrored)
    assert grown[: len(mirrored)] == mirrored


@pytest.mark.asyncio
async def test_unknown_resume_id_fails_connect_with_result_error(workspace, config_dir):
    missing = "00000000-0000-4000-8000-000000000000"
    stderr: list[str] = []
    opts = options(workspace, config_dir, resume=missing, stderr=stderr.append)

    with pytest.raises(ResultError) as caught:
        async with ClaudeSDKClient(opts):
            pass

    assert f"No conversation found with session ID: {missing}" in str(caught.value)
    assert caught.value.exit_code == 1 and caught.value.subtype == "error_during_execution"
    assert stderr == [f"No conversation found with session ID: {missing}"]


@pytest.mark.asyncio
async def test_session_id_option_and_sdk_transcript_reader(workspace, config_dir, monkeypatch):
    from claude_agent_sdk import get_session_messages

    chosen = str(uuid.uuid4())
    async with ClaudeSDKClient(options(workspace, config_dir, session_id=chosen)) as client:
        assert result_of(await ask(client, "hello")).session_id == chosen

    # The SDK's own transcript reader understands the stand-in's transcript.
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config_dir))
    history = get_session_messages(chosen, directory=str(workspace))
    assert [m.type for m in history] == ["user", "assistant"]
    assert history[0].message["content"] == "hello"


# --------------------------------------------------------------------------- interrupt


@pytest.mark.asyncio
async def test_interrupt_mid_stream_ends_the_turn_quickly(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        await client.query("!slow 400 0.05")
        messages: list[Message] = []
        interrupted_at = None
        interrupt_task = None
        async for message in client.receive_response():
            messages.append(message)
            if (
                interrupted_at is None
                and isinstance(message, StreamEvent)
                and message.event["type"] == "content_block_delta"
            ):
                interrupted_at = time.monotonic()
                # Keep draining while the interrupt is in flight (see protocol notes).
                interrupt_task = asyncio.create_task(client.interrupt())
        elapsed = time.monotonic() - interrupted_at
        assert interrupt_task is not None
        await interrupt_task

        after = await ask(client, "still there?")

    assert elapsed < 1.0
    result = result_of(messages)
    assert (result.subtype, result.is_error, result.terminal_reason) == (
        "error_during_execution",
        True,
        "aborted_streaming",
    )
    markers = [
        b.text
        for m in messages
        if isinstance(m, UserMessage) and isinstance(m.content, list)
        for b in m.content
        if isinstance(b, TextBlock)
    ]
    assert markers == ["[Request interrupted by user]"]
    assert texts(after) == ["Echo: still there?"]


# --------------------------------------------------------------------------- permissions


@pytest.mark.asyncio
async def test_can_use_tool_allow_with_updated_input(workspace, config_dir):
    seen: list[tuple[str, dict[str, Any], str | None]] = []

    async def can_use_tool(name: str, tool_input: dict[str, Any], context: ToolPermissionContext):
        seen.append((name, tool_input, context.tool_use_id))
        return PermissionResultAllow(updated_input={**tool_input, "command": "echo safer"})

    opts = options(workspace, config_dir, can_use_tool=can_use_tool)
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, '!tool Bash {"command": "rm -rf /"}')

    tool_use = next(
        b
        for m in messages
        if isinstance(m, AssistantMessage)
        for b in m.content
        if isinstance(b, ToolUseBlock)
    )
    assert seen == [("Bash", {"command": "rm -rf /"}, tool_use.id)]
    tool_result = next(
        b
        for m in messages
        if isinstance(m, UserMessage)
        for b in m.content
        if isinstance(b, ToolResultBlock)
    )
    assert tool_result.tool_use_id == tool_use.id and not tool_result.is_error
    assert tool_result.content == 'Tool Bash ran with input {"command": "echo safer"}'
    result = result_of(messages)
    assert (result.subtype, result.result, result.num_turns) == ("success", "Tool Bash finished", 2)
    assert result.permission_denials == []


@pytest.mark.asyncio
async def test_can_use_tool_deny_is_reported(workspace, config_dir):
    async def can_use_tool(name: str, tool_input: dict[str, Any], context: ToolPermissionContext):
        return PermissionResultDeny(message="not on my watch")

    opts = options(workspace, config_dir, can_use_tool=can_use_tool)
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, '!tool Bash {"command": "ls"}')

    tool_result = next(
        b
        for m in messages
        if isinstance(m, UserMessage)
        for b in m.content
        if isinstance(b, ToolResultBlock)
    )
    assert (tool_result.is_error, tool_result.content) == (True, "not on my watch")
    result = result_of(messages)
    assert result.result == "Tool Bash denied: not on my watch" and not result.is_error
    assert result.permission_denials == [
        {
            "tool_name": "Bash",
            "tool_use_id": tool_result.tool_use_id,
            "tool_input": {"command": "ls"},
        }
    ]


@pytest.mark.asyncio
async def test_deny_with_interrupt_aborts_the_turn(workspace, config_dir):
    async def can_use_tool(name: str, tool_input: dict[str, Any], context: ToolPermissionContext):
        return PermissionResultDeny(message="stop everything", interrupt=True)

    opts = options(workspace, config_dir, can_use_tool=can_use_tool)
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, '!tool Bash {"command": "ls"}')

    result = result_of(messages)
    assert (result.is_error, result.terminal_reason) == (True, "aborted_tools")


@pytest.mark.asyncio
async def test_interrupt_while_the_sdk_is_deciding_cancels_the_callback(workspace, config_dir):
    asked, cancelled = asyncio.Event(), asyncio.Event()

    async def undecided(name: str, tool_input: dict[str, Any], context: ToolPermissionContext):
        asked.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return PermissionResultAllow()

    opts = options(workspace, config_dir, can_use_tool=undecided)
    async with ClaudeSDKClient(opts) as client:

        async def interrupt_once_asked() -> None:
            await asked.wait()
            await client.interrupt()

        interrupt = asyncio.create_task(interrupt_once_asked())
        messages = await ask(client, '!tool Bash {"command": "ls"}')
        await interrupt

    assert cancelled.is_set()  # the CLI sent control_cancel_request for can_use_tool
    result = result_of(messages)
    assert (result.subtype, result.terminal_reason, result.stop_reason) == (
        "error_during_execution",
        "aborted_tools",
        "tool_use",
    )
    rejected = next(
        b
        for m in messages
        if isinstance(m, UserMessage)
        for b in m.content
        if isinstance(b, ToolResultBlock)
    )
    assert rejected.is_error and str(rejected.content).startswith(
        "The user doesn't want to proceed"
    )


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:can_use_tool will not be invoked")
async def test_one_shot_query_with_can_use_tool_and_allowed_tools(workspace, config_dir):
    asked: list[str] = []

    async def can_use_tool(name: str, tool_input: dict[str, Any], context: ToolPermissionContext):
        asked.append(name)
        return PermissionResultAllow()

    opts = options(workspace, config_dir, can_use_tool=can_use_tool, allowed_tools=["Grep"])
    prompt = '!tool Grep {"pattern": "x"}'
    messages = [m async for m in query(prompt=prompt, options=opts)]

    assert asked == []  # allowed by --allowedTools, no prompt
    assert result_of(messages).result == "Tool Grep finished"


# --------------------------------------------------------------------------- failures


@pytest.mark.asyncio
async def test_error_result_in_a_client_is_a_message_not_an_exception(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        failed = await ask(client, "!error disk on fire")
        after = await ask(client, "next")

    result = result_of(failed)
    assert (result.subtype, result.is_error, result.errors) == (
        "error_during_execution",
        True,
        ["disk on fire"],
    )
    assert texts(after) == ["Echo: next"]


@pytest.mark.asyncio
async def test_error_result_in_one_shot_query_raises_result_error_after_the_message(
    workspace, config_dir
):
    seen: list[Message] = []
    with pytest.raises(ResultError) as caught:
        async for message in query(
            prompt="!error disk on fire", options=options(workspace, config_dir)
        ):
            seen.append(message)

    assert isinstance(seen[-1], ResultMessage) and seen[-1].is_error
    error = caught.value
    assert str(error) == "Claude Code returned an error result: disk on fire (exit code: 1)"
    assert (error.subtype, error.errors, error.exit_code) == (
        "error_during_execution",
        ["disk on fire"],
        1,
    )


@pytest.mark.asyncio
async def test_api_error_surfaces_on_the_assistant_message_and_result(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        messages = await ask(client, "!api-error 429 slow down")

    assistant = next(m for m in messages if isinstance(m, AssistantMessage))
    assert (assistant.error, assistant.model) == ("rate_limit", "<synthetic>")
    assert texts(messages) == ["API Error: Request rejected (429) · slow down"]
    result = result_of(messages)
    assert (result.subtype, result.is_error, result.api_error_status, result.terminal_reason) == (
        "success",
        True,
        429,
        "api_error",
    )


@pytest.mark.asyncio
async def test_crash_mid_turn_raises_process_error(workspace, config_dir):
    stderr: list[str] = []
    seen: list[Message] = []
    opts = options(workspace, config_dir, stderr=stderr.append)
    async with ClaudeSDKClient(opts) as client:
        await client.query("!crash")
        with pytest.raises(ProcessError) as caught:
            async for message in client.receive_response():
                seen.append(message)

    assert not isinstance(caught.value, ResultError)
    assert caught.value.exit_code == 3
    assert str(caught.value) == (
        "Command failed with exit code 3 (exit code: 3)\nError output: Check stderr output for details"
    )
    assert texts(seen) == ["Working on it..."]
    assert stderr == ["standin: simulated crash (exit 3)"]


@pytest.mark.asyncio
async def test_missing_or_unrunnable_cli(workspace, config_dir, tmp_path):
    with pytest.raises(CLINotFoundError, match="Claude Code not found at: /nonexistent/claude"):
        async with ClaudeSDKClient(options(workspace, config_dir, cli_path="/nonexistent/claude")):
            pass

    not_executable = tmp_path / "claude"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(CLIConnectionError, match="Permission denied"):
        async with ClaudeSDKClient(options(workspace, config_dir, cli_path=str(not_executable))):
            pass


@pytest.mark.asyncio
async def test_max_turns_stops_a_tool_turn(workspace, config_dir):
    opts = options(workspace, config_dir, max_turns=1)
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, '!tool Bash {"command": "ls"}')
        forced = await ask(client, "!max-turns")

    for result in (result_of(messages), result_of(forced)):
        assert (result.subtype, result.is_error, result.terminal_reason) == (
            "error_max_turns",
            True,
            "max_turns",
        )
        assert result.errors == ["Reached maximum number of turns (1)"]


@pytest.mark.asyncio
async def test_max_budget_stops_turns(workspace, config_dir):
    opts = options(workspace, config_dir, max_budget_usd=0.0015)
    async with ClaudeSDKClient(opts) as client:
        results = [result_of(await ask(client, p)) for p in ("one", "two", "three")]

    assert [r.subtype for r in results] == [
        "success",
        "error_max_budget_usd",
        "error_max_budget_usd",
    ]
    assert results[1].errors == ["Reached maximum budget ($0.0015)"]
    assert results[2].num_turns == 1 and results[2].total_cost_usd == pytest.approx(0.002)


# --------------------------------------------------------------------------- content


@pytest.mark.asyncio
async def test_structured_output_with_json_schema(workspace, config_dir):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    opts = options(workspace, config_dir, output_format={"type": "json_schema", "schema": schema})
    async with ClaudeSDKClient(opts) as client:
        given = result_of(await ask(client, '!structured {"answer": "forty-two"}'))
        made_up = result_of(await ask(client, "anything"))

    assert given.structured_output == {"answer": "forty-two"}
    assert given.result == '{"answer":"forty-two"}'
    assert made_up.structured_output == {"answer": "standin"}


@pytest.mark.asyncio
async def test_image_blocks_are_counted(workspace, config_dir):
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }

    async def prompt() -> AsyncIterator[dict[str, Any]]:
        yield {
            "type": "user",
            "message": {
                "role": "user",
                "content": [{"type": "text", "text": "look"}, image, image],
            },
            "parent_tool_use_id": None,
        }

    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        messages = await ask(client, prompt())

    assert texts(messages) == ["Echo: look (received 2 images)"]


@pytest.mark.asyncio
async def test_thinking_subagent_and_many_blocks(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir)) as client:
        thinking = await ask(client, "!thinking pondering\nwhy")
        subagent = await ask(client, "!subagent count the files")
        many = await ask(client, "!many 300")

    blocks = [b for m in thinking if isinstance(m, AssistantMessage) for b in m.content]
    assert isinstance(blocks[0], ThinkingBlock) and blocks[0].thinking == "pondering"
    assert blocks[0].signature and texts(thinking) == ["Echo: why"]

    task = next(
        b
        for m in subagent
        if isinstance(m, AssistantMessage)
        for b in m.content
        if isinstance(b, ToolUseBlock)
    )
    assert task.name == "Task"
    nested = [m for m in subagent if getattr(m, "parent_tool_use_id", None) == task.id]
    assert [type(m).__name__ for m in nested] == ["UserMessage", "AssistantMessage"]
    assert texts(nested) == ["Subagent says: count the files"]

    assistants = [m for m in many if isinstance(m, AssistantMessage)]
    assert len(assistants) == 300 and len({m.message_id for m in assistants}) == 1
    assert texts(many)[-1] == "block 299"


# --------------------------------------------------------------------------- control requests


@pytest.mark.asyncio
async def test_control_requests(workspace, config_dir):
    async with ClaudeSDKClient(options(workspace, config_dir, model="claude-sonnet-5")) as client:
        info = await client.get_server_info()
        assert info is not None and info["claude_code_version"] == "2.1.332"

        await client.set_permission_mode("acceptEdits")
        await client.set_model("claude-haiku-5")
        usage = await client.get_context_usage()
        status = await client.get_mcp_status()
        messages = await ask(client, "hi")

    assert usage["totalTokens"] > 0 and usage["model"] == "claude-haiku-5"
    assert status == {"mcpServers": []}
    # The status frame of set_permission_mode arrives with the NEXT response.
    assert isinstance(messages[0], SystemMessage) and messages[0].subtype == "status"
    assert messages[0].data["permissionMode"] == "acceptEdits"
    init = next(m for m in messages if isinstance(m, SystemMessage) and m.subtype == "init")
    assert (init.data["model"], init.data["permissionMode"]) == ("claude-haiku-5", "acceptEdits")


@pytest.mark.asyncio
async def test_rewind_files_restores_checkpoints(workspace, config_dir):
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    notes = workspace / "notes.txt"
    opts = options(workspace, config_dir, enable_file_checkpointing=True)
    async with ClaudeSDKClient(opts) as client:
        one = await ask(client, prompt_with_uuid("!write notes.txt v1", first))
        await ask(client, prompt_with_uuid("!write notes.txt v2", second))
        assert notes.read_text() == "v2"

        await client.rewind_files(second)
        assert notes.read_text() == "v1"
        with pytest.raises(Exception, match="No file checkpoint found for this message."):
            await client.rewind_files(str(uuid.uuid4()))

    # A prompt's own uuid comes back on the result (and first stream/assistant frames).
    session_id = result_of(one).session_id
    assert result_of(one).user_message_uuid == first

    # Checkpoints outlive the process, as with the real CLI: a resumed one can rewind.
    resumed = options(workspace, config_dir, enable_file_checkpointing=True, resume=session_id)
    async with ClaudeSDKClient(resumed) as client:
        await ask(client, prompt_with_uuid("!write notes.txt v3", third))
        assert notes.read_text() == "v3"
        await client.rewind_files(first)
        assert not notes.exists()

    async with ClaudeSDKClient(options(workspace, config_dir, resume=session_id)) as client:
        with pytest.raises(Exception, match="File rewinding is not enabled."):
            await client.rewind_files(first)


@pytest.mark.asyncio
async def test_replayed_user_message_carries_its_uuid(workspace, config_dir):
    opts = options(workspace, config_dir, extra_args={"replay-user-messages": None})
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, "hello")

    replayed = [m for m in messages if isinstance(m, UserMessage)]
    assert len(replayed) == 1 and replayed[0].content == "hello" and replayed[0].uuid


# --------------------------------------------------------------------------- process level


@pytest.mark.asyncio
async def test_one_shot_query_runs_every_queued_prompt_after_stdin_eof(workspace, config_dir):
    async def prompts() -> AsyncIterator[dict[str, Any]]:
        for text in ("a", "b", "!recall"):
            yield {
                "type": "user",
                "message": {"role": "user", "content": text},
                "parent_tool_use_id": None,
            }

    messages = [m async for m in query(prompt=prompts(), options=options(workspace, config_dir))]

    results = [m for m in messages if isinstance(m, ResultMessage)]
    assert [r.result for r in results] == ["Echo: a", "Echo: b", "Earlier prompts:\n1. a\n2. b"]


def _run_standin(
    lines: list[dict[str, Any]], config_dir: Path, **env: str
) -> subprocess.CompletedProcess:
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    return subprocess.run(  # noqa: PLW1510 - callers assert the exit code
        [STANDIN, "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"],
        input=payload,
        capture_output=True,
        text=True,
        timeout=10,
        env={**os.environ, "CLAUDE_CONFIG_DIR": str(config_dir), **env},
    )


def test_exit_code_follows_the_last_result(config_dir):
    init = {"type": "control_request", "request_id": "req_1", "request": {"subtype": "initialize"}}

    def user(text: str) -> dict[str, Any]:
        return {
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": None,
        }

    ok = _run_standin([init, user("!error first"), user("fine")], config_dir)
    failed = _run_standin([init, user("fine"), user("!error last")], config_dir)

    assert ok.returncode == 0 and failed.returncode == 1
    frames = [json.loads(line) for line in ok.stdout.splitlines()]
    assert frames[0]["type"] == "control_response"
    assert [f["subtype"] for f in frames if f["type"] == "result"] == [
        "error_during_execution",
        "success",
    ]


def test_version_and_hang_init(config_dir):
    version = subprocess.run(
        [STANDIN, "-v"], capture_output=True, text=True, timeout=10, check=True
    )
    assert version.stdout == "2.1.332 (Claude Code)\n"

    process = subprocess.Popen(
        [STANDIN, "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "CLAUDE_CONFIG_DIR": str(config_dir), "STANDIN_HANG_INIT": "1"},
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        request = {
            "type": "control_request",
            "request_id": "req_1",
            "request": {"subtype": "initialize"},
        }
        process.stdin.write((json.dumps(request) + "\n").encode())
        process.stdin.flush()
        time.sleep(0.3)
        process.stdin.close()  # EOF: it exits without ever answering
        assert process.wait(timeout=5) == 0
        assert process.stdout.read() == b""
    finally:
        process.kill()
        process.wait()


@pytest.mark.asyncio
async def test_connect_is_fast(workspace, config_dir):
    started = time.perf_counter()
    async with ClaudeSDKClient(options(workspace, config_dir)):
        connected = time.perf_counter() - started
    assert connected < 1.0  # measured ~0.05 s; the real CLI takes ~0.65 s
