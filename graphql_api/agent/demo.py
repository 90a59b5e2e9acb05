"""The `demo` backend: an offline, scripted agent for the embedded quick start.

It needs no credentials and starts no process. It streams an echo of the prompt as text
deltas; a prompt that starts with "tool:" asks for a tool approval first, so the approval
flow can be tried from GraphiQL without Claude.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from graphql_api.agent.backend import (
    AgentEvent,
    AgentFailure,
    AgentMessage,
    AgentResult,
    AgentStarted,
    TextDelta,
    TurnRequest,
)

DEMO_MODEL = "demo"


class DemoRun:
    def __init__(self, request: TurnRequest) -> None:
        self.request = request
        self.interrupted = asyncio.Event()
        self.model = request.model or DEMO_MODEL
        self.session_id = request.resume if request.resume and not request.fork else str(uuid.uuid4())

    async def events(self) -> AsyncIterator[AgentEvent]:
        started = time.monotonic()
        yield AgentStarted(self.session_id)
        prompt = self.request.prompt.strip()
        if prompt.startswith("tool:") and self.request.on_approval is not None:
            async for event in self._tool_use(prompt.removeprefix("tool:").strip()):
                yield event
        words = f"Demo agent (offline): you said {prompt!r}.".split(" ")
        sent: list[str] = []
        for word in words:
            if self.interrupted.is_set():
                break
            chunk = word if not sent else " " + word
            sent.append(chunk)
            yield TextDelta(chunk)
            await asyncio.sleep(0.01)
        text = "".join(sent)
        yield AgentMessage("ASSISTANT", [{"type": "text", "text": text}], self.model)
        yield AgentResult(
            is_error=self.interrupted.is_set(),
            subtype="error_during_execution" if self.interrupted.is_set() else "success",
            result=text,
            duration_ms=int((time.monotonic() - started) * 1000),
            num_turns=1,
            cost_usd=0.0,
            usage={"input_tokens": len(prompt.split()), "output_tokens": len(words)},
            agent_session_id=self.session_id,
            interrupted=self.interrupted.is_set(),
        )

    async def _tool_use(self, spec: str) -> AsyncIterator[AgentEvent]:
        name, _, raw = spec.partition(" ")
        try:
            tool_input: dict[str, Any] = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            tool_input = {"text": raw}
        tool_use_id = f"toolu_demo_{uuid.uuid4().hex[:12]}"
        yield AgentMessage(
            "ASSISTANT",
            [{"type": "tool_use", "id": tool_use_id, "name": name or "Demo", "input": tool_input}],
            self.model,
        )
        assert self.request.on_approval is not None
        decision = await self.request.on_approval(name or "Demo", tool_input, tool_use_id)
        result = (
            {"type": "tool_result", "tool_use_id": tool_use_id, "is_error": False,
             "content": f"ran with {json.dumps(decision.updated_input or tool_input)}"}
            if decision.allow
            else {"type": "tool_result", "tool_use_id": tool_use_id, "is_error": True,
                  "content": decision.message or "denied"}
        )  # fmt: skip
        yield AgentMessage("USER", [result])

    async def interrupt(self) -> None:
        self.interrupted.set()

    async def set_permission_mode(self, mode: str) -> None:
        return None

    async def set_model(self, model: str | None) -> None:
        self.model = model or DEMO_MODEL

    async def close(self) -> None:
        return None


class DemoBackend:
    name = "demo"

    async def start(self, request: TurnRequest) -> DemoRun:
        return DemoRun(request)

    async def rewind_files(self, request: TurnRequest, user_message_uuid: str) -> None:
        raise AgentFailure("the demo agent changes no files, so it has no checkpoints to rewind to")
