"""Tool approvals: the turn waits for a client's decision (allow, deny) or its timeout."""

from __future__ import annotations

import json
from pathlib import Path

from graphql_api.api.ids import from_global_id
from tests.agent.helpers import create_session, send, settle, state, wait_for

RESPOND = """mutation($i: RespondToToolApprovalInput!) { respondToToolApproval(input: $i) {
  approval { id status message updatedInput decidedAt toolName session { id } turn { id } } } }"""


async def _pending(client, sid):
    async def one():
        s = await state(client, sid)
        return s["pendingApprovals"][0] if s["pendingApprovals"] else None

    return await wait_for(one)


def _tool_results(session_state):
    return [
        block
        for e in session_state["messages"]["edges"]
        for block in e["node"]["content"]
        if block["__typename"] == "ToolResultBlock"
    ]


async def test_allow_with_updated_input(graphql, new_key, services):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    tool_input = {"file_path": "notes.txt", "content": "draft"}
    started = await send(client, sid, f"!tool Write {json.dumps(tool_input)}")
    approval = await _pending(client, sid)
    assert approval["toolName"] == "Write" and approval["input"] == tool_input and approval["status"] == "PENDING"
    decided = await client.data(
        RESPOND, {"i": {"approvalId": approval["id"], "allow": True, "updatedInput": {"file_path": "notes.txt", "content": "final"}}}
    )
    assert decided["respondToToolApproval"]["approval"]["status"] == "ALLOWED"
    assert decided["respondToToolApproval"]["approval"]["turn"]["id"] == started["turn"]["id"]
    done = await settle(client, sid)
    assert done["turns"]["edges"][-1]["node"]["status"] == "COMPLETED"
    assert done["pendingApprovals"] == []
    [result] = _tool_results(done)
    assert result["isError"] is False and "notes.txt" in json.dumps(result["content"])
    row = await services.sessions.get(await services.api_keys.authenticate(secret), from_global_id(sid)[1])
    assert (Path(row.workspace) / "notes.txt").read_text() == "final"  # the replaced input ran

    # A second answer is refused with a code, and changes nothing.
    again = await client.error(RESPOND, {"i": {"approvalId": approval["id"], "allow": False}})
    assert again["extensions"]["code"] == "BAD_USER_INPUT" and again["extensions"]["status"] == "ALLOWED"


async def test_deny_with_a_message(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    await send(client, sid, '!tool Bash {"command": "rm -rf /"}')
    approval = await _pending(client, sid)
    decided = await client.data(RESPOND, {"i": {"approvalId": approval["id"], "allow": False, "message": "not on my watch"}})
    assert decided["respondToToolApproval"]["approval"]["message"] == "not on my watch"
    done = await settle(client, sid)
    [result] = _tool_results(done)
    assert result["isError"] is True and "not on my watch" in json.dumps(result["content"])
    approvals = await client.data("query($id: ID!) { node(id: $id) { ... on ToolApproval { status decidedAt } } }", {"id": approval["id"]})
    assert approvals["node"]["status"] == "DENIED" and approvals["node"]["decidedAt"]


async def test_timeout_expires_and_denies(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client, approvalTimeoutSeconds=1)
    await send(client, sid, '!tool Write {"file_path": "late.txt", "content": "x"}')
    approval = await _pending(client, sid)
    done = await settle(client, sid)
    [result] = _tool_results(done)
    assert result["isError"] is True
    expired = await client.data("query($id: ID!) { node(id: $id) { ... on ToolApproval { status message } } }", {"id": approval["id"]})
    assert expired["node"]["status"] == "EXPIRED"
    late = await client.error(RESPOND, {"i": {"approvalId": approval["id"], "allow": True}})
    assert late["extensions"]["code"] == "BAD_USER_INPUT"


async def test_foreign_key_cannot_answer(graphql, new_key):
    _, owner_secret = await new_key()
    _, other_secret = await new_key()
    owner, other = graphql(owner_secret), graphql(other_secret)
    sid = await create_session(owner)
    await send(owner, sid, '!tool Write {"file_path": "a.txt", "content": "x"}')
    approval = await _pending(owner, sid)
    error = await other.error(RESPOND, {"i": {"approvalId": approval["id"], "allow": True}})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await state(owner, sid))["pendingApprovals"][0]["status"] == "PENDING"
    await owner.data(RESPOND, {"i": {"approvalId": approval["id"], "allow": False}})
    await settle(owner, sid)
