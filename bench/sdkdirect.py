"""`python -m bench.sdkdirect` < spec.json: the agent without the server, the baseline of suite 6.

N `ClaudeSDKClient`s at once in one process (as the server holds N turns in one process), each
against the CLI at `cli_path` with the options the server's claude backend passes (partial
messages, a workspace per client, no setting sources, an in-memory session store so the CLI
mirrors its transcript as it does for the server, a can_use_tool callback so it asks over
stdio). Per client, from just before `connect()`: when connect() returned, the first text
delta, the first assistant message and the result arrived, and how many messages came.

spec: {cli_path, config_dir, workspace_root, prompt, concurrency}
prints: {"clients": [{connect, first_delta, first_assistant, result, messages, error}], "wall"}
(seconds; `wall` from the first start to the last result)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    InMemorySessionStore,
    PermissionResultAllow,
    ResultMessage,
    StreamEvent,
    UserMessage,
)


async def _allow(tool_name: str, tool_input: dict[str, Any], context: Any) -> PermissionResultAllow:
    return PermissionResultAllow()


async def one(spec: dict[str, Any], start_gate: asyncio.Event) -> dict[str, Any]:
    workspace = Path(spec["workspace_root"]) / uuid.uuid4().hex
    workspace.mkdir(parents=True)
    options = ClaudeAgentOptions(
        cwd=str(workspace),
        cli_path=spec["cli_path"],
        env={"CLAUDE_CONFIG_DIR": spec["config_dir"]},
        include_partial_messages=True,
        permission_mode="default",
        setting_sources=[],
        session_store=InMemorySessionStore(),
        can_use_tool=_allow,
        stderr=lambda line: None,
    )
    out: dict[str, Any] = {"first_delta": None, "first_assistant": None, "messages": 0, "error": None}
    await start_gate.wait()
    t0 = time.perf_counter()
    out["start_ns"] = time.monotonic_ns()
    client = ClaudeSDKClient(options)
    try:
        await client.connect()
        out["connect"] = time.perf_counter() - t0

        async def prompt() -> Any:
            yield {
                "type": "user",
                "message": {"role": "user", "content": [{"type": "text", "text": spec["prompt"]}]},
                "parent_tool_use_id": None,
                "session_id": "default",
                "uuid": str(uuid.uuid4()),
            }

        await client.query(prompt())
        async for message in client.receive_response():
            now = time.perf_counter() - t0
            if isinstance(message, StreamEvent):
                event = message.event
                if (
                    out["first_delta"] is None
                    and event.get("type") == "content_block_delta"
                    and (event.get("delta") or {}).get("type") == "text_delta"
                ):
                    out["first_delta"] = now
            elif isinstance(message, AssistantMessage):
                out["messages"] += 1
                if out["first_assistant"] is None:
                    out["first_assistant"] = now
            elif isinstance(message, UserMessage):
                out["messages"] += 1
            elif isinstance(message, ResultMessage):
                out["messages"] += 1
                out["result"] = now
    except Exception as error:  # noqa: BLE001 - reported, not raised: one failure is a figure
        out["error"] = f"{type(error).__name__}: {str(error)[:200]}"
    finally:
        try:
            await client.disconnect()
        except Exception:  # noqa: BLE001
            pass
    out["end"] = time.perf_counter() - t0
    return out


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    gate = asyncio.Event()
    tasks = [asyncio.create_task(one(spec, gate)) for _ in range(int(spec["concurrency"]))]
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    gate.set()
    clients = await asyncio.gather(*tasks)
    return {"clients": clients, "wall": time.perf_counter() - start}


if __name__ == "__main__":
    try:  # the server runs on uvloop (uvicorn's default when it is installed): so does this
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    print(json.dumps(asyncio.run(main(json.loads(sys.stdin.read())))))
