"""Real tier: the bundled Claude Code CLI against the project's fake Messages API.

Real tools, real permission requests answered through respondToToolApproval, real file
checkpoints rewound through rewindFiles.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from graphql_api.api.ids import from_global_id
from graphql_api.app import create_app
from graphql_api.services import Services
from tests.agent.helpers import create_session, send, settle, state, wait_for
from tests.agent_doubles.fake_messages_api import FakeMessagesAPI
from tests.conftest import GraphQLClient, make_settings

RESPOND = "mutation($i: RespondToToolApprovalInput!) { respondToToolApproval(input: $i) { approval { status } } }"


@pytest.fixture
async def real(database_url, new_key, tmp_path):
    """A client of a server whose turns run the real bundled CLI, offline."""
    _, secret = await new_key()
    with FakeMessagesAPI() as fake:
        services = Services.create(
            make_settings(database_url, claude_cli_path=None, claude_config_dir=tmp_path / "config")
        )
        services.runner.backend.env = {**fake.cli_env(), "CLAUDE_CODE_MAX_RETRIES": "0"}
        await services.start()
        try:
            app = create_app(services=services)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as http:
                yield GraphQLClient(http, secret), services
        finally:
            await services.close()


def workspace_of(services: Services, session_id: str) -> Path:
    return services.settings.workspace_root.resolve() / str(from_global_id(session_id)[1])


async def approve_next(client, session_id: str) -> dict:
    async def pending():
        s = await state(client, session_id)
        if s["pendingApprovals"]:
            return s["pendingApprovals"][0]
        turn = s["turns"]["edges"][-1]["node"]
        assert turn["status"] in ("QUEUED", "RUNNING"), f"the turn ended without asking: {turn}"
        return None

    approval = await wait_for(pending, timeout=60)
    await client.data(RESPOND, {"i": {"approvalId": approval["id"], "allow": True}})
    return approval


async def test_write_approved_then_rewound_and_read(real):
    client, services = real
    sid = await create_session(client, enableFileCheckpointing=True)
    target = workspace_of(services, sid) / "notes.txt"

    await send(client, sid, f"WRITE {target} first version")
    approval = await approve_next(client, sid)
    assert approval["toolName"] == "Write"
    first = await settle(client, sid, timeout=60)
    assert first["turns"]["edges"][-1]["node"]["status"] == "COMPLETED", first["turns"]
    assert target.read_text() == "first version"

    await send(client, sid, f"EDIT {target} first => second")
    approval = await approve_next(client, sid)
    assert approval["toolName"] == "Edit"
    second = await settle(client, sid, timeout=60)
    assert second["turns"]["edges"][-1]["node"]["status"] == "COMPLETED", second["turns"]
    assert target.read_text() == "second version"

    checkpoints = await client.data(
        "query($id: ID!) { session(id: $id) { checkpoints { edges { node { id filesModified turn { prompt } } } } } }",
        {"id": sid},
    )
    edges = checkpoints["session"]["checkpoints"]["edges"]
    assert len(edges) == 2 and str(target) in edges[1]["node"]["filesModified"]
    rewound = await client.data(
        "mutation($i: RewindFilesInput!) { rewindFiles(input: $i) { session { status } checkpoint { id } } }",
        {"i": {"sessionId": sid, "checkpointId": edges[1]["node"]["id"]}},
    )
    assert rewound["rewindFiles"]["checkpoint"]["id"] == edges[1]["node"]["id"]
    assert target.read_text() == "first version"  # as it was before the second turn

    read = await send(client, sid, f"READ {target}", wait=True)
    assert read["turn"]["status"] == "COMPLETED"
    assert "first version" in read["turn"]["result"]


async def test_interrupt_mid_stream(real):
    client, _ = real
    sid = await create_session(client)
    await send(client, sid, "SLOW 100 0.05")

    async def streaming():
        s = await state(client, sid)
        return s["activeTurn"] is not None

    await wait_for(streaming, timeout=30)
    await asyncio.sleep(0.5)
    await client.data("mutation($i: InterruptInput!) { interrupt(input: $i) { turn { id } } }", {"i": {"sessionId": sid}})
    done = await settle(client, sid, timeout=30)
    assert done["turns"]["edges"][-1]["node"]["status"] == "INTERRUPTED"
    assert done["status"] == "IDLE"
    follow_up = await send(client, sid, "hello again", wait=True)
    assert follow_up["turn"]["status"] == "COMPLETED"
