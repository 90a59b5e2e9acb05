"""Driving sessions through the GraphQL API in agent tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

CREATE = """mutation($input: CreateSessionInput!) { createSession(input: $input) {
  session { id status } turn { id status } } }"""
SEND = """mutation($input: SendMessageInput!) { sendMessage(input: $input) {
  session { id status } turn { id status result error costUsd numTurns durationMs structuredOutput } } }"""
STATE = """query($id: ID!) { session(id: $id) {
  id status totalTurns totalCostUsd agentSessionId lastSequence
  activeTurn { id }
  pendingApprovals { id toolName toolUseId input status }
  turns(first: 100) { edges { node { id status prompt result error costUsd } } }
  messages(first: 100) { edges { node { sequence role parentToolUseId
    content { __typename ... on TextBlock { text } ... on ToolUseBlock { name input toolUseId }
      ... on ToolResultBlock { toolUseId content isError } ... on ThinkingBlock { thinking } } } } }
} }"""


async def create_session(client: Any, **fields: Any) -> str:
    data = await client.data(CREATE, {"input": fields})
    return data["createSession"]["session"]["id"]


async def send(client: Any, session_id: str, prompt: str, **fields: Any) -> dict[str, Any]:
    data = await client.data(SEND, {"input": {"sessionId": session_id, "prompt": prompt, **fields}})
    return data["sendMessage"]


async def state(client: Any, session_id: str) -> dict[str, Any]:
    return (await client.data(STATE, {"id": session_id}))["session"]


async def settle(client: Any, session_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The session once no turn of it is queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        current = await state(client, session_id)
        statuses = {e["node"]["status"] for e in current["turns"]["edges"]}
        if current["status"] != "RUNNING" and not statuses & {"QUEUED", "RUNNING"}:
            return current
        assert time.monotonic() < deadline, f"session did not settle: {current}"
        await asyncio.sleep(0.05)


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(interval)


def texts(session_state: dict[str, Any], role: str | None = None) -> list[str]:
    return [
        block["text"]
        for edge in session_state["messages"]["edges"]
        if role is None or edge["node"]["role"] == role
        for block in edge["node"]["content"]
        if block["__typename"] == "TextBlock"
    ]


def sequences(session_state: dict[str, Any]) -> list[int]:
    return [edge["node"]["sequence"] for edge in session_state["messages"]["edges"]]
