"""The fake Messages API, alone over HTTP and under the REAL bundled Claude Code CLI.

The real-CLI tests run tools, permissions and file checkpoints for real. Each
costs ~0.65 s to connect and ~200 MiB while it runs, so they are few and short.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    InMemorySessionStore,
    Message,
    PermissionResultAllow,
    ResultMessage,
    StreamEvent,
    TextBlock,
    ToolPermissionContext,
    UserMessage,
)

from . import bundled_cli_path
from .fake_messages_api import FakeMessagesAPI, prompt_and_step

REAL_CLI = bundled_cli_path()


def test_the_sdk_wheel_bundles_the_real_cli():
    """The real tier needs the bundled CLI; its absence is a failure, not a skip."""
    assert REAL_CLI is not None


@pytest.fixture(scope="module")
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


def real_options(
    api: FakeMessagesAPI, workspace: Path, config_dir: Path, **overrides: Any
) -> ClaudeAgentOptions:
    env = {**api.cli_env(), "CLAUDE_CONFIG_DIR": str(config_dir), **overrides.pop("env", {})}
    return ClaudeAgentOptions(cli_path=REAL_CLI, cwd=str(workspace), env=env, **overrides)


async def ask(client: ClaudeSDKClient, prompt: Any) -> list[Message]:
    await client.query(prompt)
    return [m async for m in client.receive_response()]


def result_of(messages: list[Message]) -> ResultMessage:
    assert isinstance(messages[-1], ResultMessage), messages[-1]
    return messages[-1]


def texts(messages: list[Message]) -> list[str]:
    return [
        b.text
        for m in messages
        if isinstance(m, AssistantMessage)
        for b in m.content
        if isinstance(b, TextBlock)
    ]


# --------------------------------------------------------------------------- plain HTTP


def _post(api: FakeMessagesAPI, path: str, body: dict[str, Any]) -> tuple[str, bytes]:
    request = urllib.request.Request(
        api.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-api-key": "dummy"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def _sse_events(raw: bytes) -> list[dict[str, Any]]:
    return [
        json.loads(line[len("data: ") :])
        for line in raw.decode().splitlines()
        if line.startswith("data: ")
    ]


def test_streams_scripted_tool_use_then_text(api):
    tools = [{"name": "Write", "input_schema": {"type": "object"}}]
    prompt = {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>x</system-reminder>"},
            {"type": "text", "text": "WRITE /tmp/x.txt hi\\nthere"},
        ],
    }
    kind, raw = _post(
        api, "/v1/messages", {"model": "m", "stream": True, "tools": tools, "messages": [prompt]}
    )
    events = _sse_events(raw)

    assert kind == "text/event-stream"
    assert [e["type"] for e in events][:2] == ["message_start", "content_block_start"]
    assert events[1]["content_block"]["name"] == "Write"
    partial = "".join(
        e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"
    )
    assert json.loads(partial) == {"file_path": "/tmp/x.txt", "content": "hi\nthere"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use" and events[-1]["type"] == "message_stop"

    tool_use = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t1", "name": "Write", "input": {}}],
    }
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
    }
    body = {"model": "m", "stream": True, "tools": tools, "messages": [prompt, tool_use, result]}
    assert prompt_and_step(body) == ("WRITE /tmp/x.txt hi\\nthere", 1)
    events = _sse_events(_post(api, "/v1/messages", body)[1])
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "done" and events[-2]["delta"]["stop_reason"] == "end_turn"


def test_side_calls_counts_and_lists(api):
    plain = {"model": "m", "messages": [{"role": "user", "content": "WRITE /tmp/x y"}]}
    kind, raw = _post(api, "/v1/messages", plain)
    message = json.loads(raw)
    assert kind == "application/json"
    assert message["content"] == [
        {"type": "text", "text": "Echo: WRITE /tmp/x y"}
    ]  # no tools: text only

    assert json.loads(_post(api, "/v1/messages/count_tokens", plain)[1])["input_tokens"] > 0
    with urllib.request.urlopen(api.base_url + "/v1/models", timeout=10) as response:
        assert json.loads(response.read())["data"] == []
    recorded = [(r.method, r.path) for r in api.requests]
    assert ("POST", "/v1/messages/count_tokens") in recorded and ("GET", "/v1/models") in recorded


def test_thinking_and_http_errors(api):
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "THINK hmm"}]}
    deltas = [
        e["delta"]["type"]
        for e in _sse_events(_post(api, "/v1/messages", body)[1])
        if e["type"] == "content_block_delta"
    ]
    assert deltas[:3] == ["thinking_delta", "thinking_delta", "signature_delta"]

    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": "HTTPERROR 400 nope"}],
    }
    with pytest.raises(urllib.error.HTTPError) as caught:
        _post(api, "/v1/messages", body)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"] == {
        "type": "invalid_request_error",
        "message": "nope",
    }


# --------------------------------------------------------------------------- real CLI


@pytest.mark.asyncio
async def test_write_approved_through_can_use_tool_creates_the_file(api, workspace, config_dir):
    asked: list[tuple[str, dict[str, Any]]] = []

    async def can_use_tool(name: str, tool_input: dict[str, Any], context: ToolPermissionContext):
        asked.append((name, tool_input))
        return PermissionResultAllow()

    opts = real_options(api, workspace, config_dir, can_use_tool=can_use_tool)
    target = workspace / "hello.txt"
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, f"WRITE {target} hello from the fake")

    assert asked == [("Write", {"file_path": str(target), "content": "hello from the fake"})]
    assert target.read_text() == "hello from the fake"
    result = result_of(messages)
    assert (result.subtype, result.is_error, result.result) == ("success", False, "done")


@pytest.mark.asyncio
async def test_rewind_files_restores_the_previous_content(api, workspace, config_dir):
    async def allow(name: str, tool_input: dict[str, Any], context: ToolPermissionContext):
        return PermissionResultAllow()

    # What the SDK docs ask for: checkpointing, plus replayed user messages for their uuids.
    opts = real_options(
        api,
        workspace,
        config_dir,
        can_use_tool=allow,
        enable_file_checkpointing=True,
        extra_args={"replay-user-messages": None},
    )
    target = workspace / "notes.txt"
    own_uuid = str(uuid.uuid4())

    async def prompt_with_own_uuid() -> AsyncIterator[dict[str, Any]]:
        yield {
            "type": "user",
            "message": {"role": "user", "content": f"WRITE {target} v3"},
            "parent_tool_use_id": None,
            "uuid": own_uuid,
        }

    async with ClaudeSDKClient(opts) as client:
        await ask(client, f"WRITE {target} v1")
        second = await ask(client, f"WRITE {target} v2")
        replayed = [m for m in second if isinstance(m, UserMessage) and isinstance(m.content, str)]
        assert len(replayed) == 1 and replayed[0].uuid
        assert target.read_text() == "v2"

        await client.rewind_files(replayed[0].uuid)
        assert target.read_text() == "v1"

        # A prompt sent with its own "uuid" can be rewound to by that uuid.
        third = await ask(client, prompt_with_own_uuid())
        assert result_of(third).user_message_uuid == own_uuid
        assert target.read_text() == "v3"
        await client.rewind_files(own_uuid)
        assert target.read_text() == "v1"


@pytest.mark.asyncio
async def test_read_returns_the_file_content_and_edit_changes_it(api, workspace, config_dir):
    source = workspace / "data.txt"
    source.write_text("secret file contents\n")
    opts = real_options(api, workspace, config_dir, allowed_tools=["Read", "Edit"])
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, f"READ {source}")
        edited = await ask(client, f"EDIT {source} secret => public")

    assert texts(messages)[-1] == "Read result: 1\tsecret file contents\n2\t"
    assert result_of(edited).result == "done"
    assert source.read_text() == "public file contents\n"


@pytest.mark.asyncio
async def test_interrupt_mid_stream(api, workspace, config_dir):
    opts = real_options(api, workspace, config_dir, include_partial_messages=True)
    async with ClaudeSDKClient(opts) as client:
        await client.query("SLOW 200 0.05")
        messages: list[Message] = []
        started = None
        interrupt = None
        async for message in client.receive_response():
            messages.append(message)
            if (
                started is None
                and isinstance(message, StreamEvent)
                and message.event["type"] == "content_block_delta"
            ):
                started = time.monotonic()
                interrupt = asyncio.create_task(client.interrupt())
        elapsed = time.monotonic() - started
        assert interrupt is not None
        await interrupt

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


@pytest.mark.asyncio
async def test_resume_from_session_store_on_an_empty_config_dir(api, workspace, tmp_path):
    store = InMemorySessionStore()
    machine_a, machine_b = tmp_path / "a", tmp_path / "b"
    machine_a.mkdir()
    machine_b.mkdir()

    async with ClaudeSDKClient(
        real_options(api, workspace, machine_a, session_store=store)
    ) as client:
        session_id = result_of(await ask(client, "my name is Bob")).session_id

    resumed = real_options(api, workspace, machine_b, session_store=store, resume=session_id)
    async with ClaudeSDKClient(resumed) as client:
        messages = await ask(client, "what is my name?")

    assert result_of(messages).session_id == session_id
    last_request = json.dumps(api.messages_requests()[-1]["messages"])
    assert "my name is Bob" in last_request  # the resumed CLI sent the earlier turn
    assert list(machine_b.iterdir()) == []


@pytest.mark.asyncio
async def test_api_error_shape_matches_the_standin(api, workspace, config_dir):
    opts = real_options(api, workspace, config_dir, env={"CLAUDE_CODE_MAX_RETRIES": "0"})
    async with ClaudeSDKClient(opts) as client:
        messages = await ask(client, "HTTPERROR 429 slow down")

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
