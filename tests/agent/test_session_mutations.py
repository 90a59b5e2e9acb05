"""Session mutations: validation that names the field, archive, delete, mode and model, keys."""

from __future__ import annotations

import pytest

from tests.agent.helpers import CREATE, create_session, send, settle, state

BAD_OPTIONS = [
    ({"permissionMode": "BYPASS_PERMISSIONS"}, "input.permissionMode"),
    ({"allowedTools": ["Read", "bad;tool"]}, "input.allowedTools"),
    ({"maxTurns": 0}, "input.maxTurns"),
    ({"maxBudgetUsd": -1.0}, "input.maxBudgetUsd"),
    ({"outputSchema": {"type": "nonsense"}}, "input.outputSchema"),
    ({"outputSchema": [1]}, "input.outputSchema"),
    ({"mcpServers": {"local": {"type": "stdio", "command": "sh"}}}, "input.mcpServers.local"),
    ({"mcpServers": {"web": {"type": "http", "url": "ftp://x"}}}, "input.mcpServers.web"),
    ({"agents": {"helper": {"description": "d"}}}, "input.agents.helper"),
    ({"agents": {"helper": {"description": "d", "prompt": "p", "cwd": "/"}}}, "input.agents.helper"),
    ({"approvalTimeoutSeconds": 0}, "input.approvalTimeoutSeconds"),
    ({"metadata": [1, 2]}, "input.metadata"),
    ({"title": "x" * 501}, "input.title"),
    ({"model": "bad model!"}, "input.model"),
    ({"prompt": "   "}, "input.prompt"),
]


@pytest.mark.parametrize("fields, field", BAD_OPTIONS)
async def test_invalid_options_name_the_field_and_store_nothing(graphql, new_key, fields, field):
    _, secret = await new_key()
    client = graphql(secret)
    error = await client.error(CREATE, {"input": fields})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert (await client.data("{ viewer { sessionCount } }"))["viewer"]["sessionCount"] == 0


async def test_valid_options_are_stored(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    options = {
        "systemPrompt": "be brief", "allowedTools": ["Read", "Bash(git:*)"], "disallowedTools": ["WebFetch"],
        "permissionMode": "ACCEPT_EDITS", "maxTurns": 3, "maxBudgetUsd": 1.5,
        "mcpServers": {"docs": {"type": "http", "url": "https://mcp.example.com"}},
        "agents": {"reviewer": {"description": "reviews", "prompt": "review it", "tools": ["Read"], "model": "haiku"}},
        "enableFileCheckpointing": True, "approvalTimeoutSeconds": 30,
    }  # fmt: skip
    sid = await create_session(client, **options, metadata={"team": "x"}, title="opts")
    got = await client.data("query($id: ID!) { session(id: $id) { options metadata title } }", {"id": sid})
    stored = got["session"]["options"]
    assert stored == options
    assert got["session"]["metadata"] == {"team": "x"}


async def test_prompt_and_image_limits(graphql, new_key, services):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    too_long = "x" * (services.settings.max_prompt_chars + 1)
    send_q = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { turn { id } } }"
    error = await client.error(send_q, {"i": {"sessionId": sid, "prompt": too_long}})
    assert error["extensions"]["field"] == "input.prompt"
    cases = [
        ({"mediaType": "image/tiff", "data": "AAAA"}, "input.images.0.mediaType"),
        ({"mediaType": "image/png"}, "input.images.0"),
        ({"mediaType": "image/png", "data": "AAAA", "url": "https://x/y.png"}, "input.images.0"),
        ({"mediaType": "image/png", "data": "not base64!"}, "input.images.0.data"),
        ({"mediaType": "image/png", "url": "http://insecure/y.png"}, "input.images.0.url"),
        ({"mediaType": "image/png", "data": "A" * (services.settings.max_image_bytes * 2)}, "input.images.0.data"),
    ]
    for image, field in cases:
        error = await client.error(send_q, {"i": {"sessionId": sid, "prompt": "p", "images": [image]}})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert (await state(client, sid))["turns"]["edges"] == []


async def test_archive_refuses_new_messages(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client, prompt="hello")
    await settle(client, sid)
    archived = await client.data(
        "mutation($i: ArchiveSessionInput!) { archiveSession(input: $i) { session { status } } }", {"i": {"id": sid}}
    )
    assert archived["archiveSession"]["session"]["status"] == "ARCHIVED"
    error = await client.error(
        "mutation($i: SendMessageInput!) { sendMessage(input: $i) { turn { id } } }", {"i": {"sessionId": sid, "prompt": "more"}}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "archived" in error["message"]
    assert len((await state(client, sid))["turns"]["edges"]) == 1


async def test_delete_interrupts_the_running_turn_and_removes_everything(graphql, new_key, services):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    await send(client, sid, "!slow 500 0.02")
    deleted = await client.data(
        "mutation($i: DeleteSessionInput!) { deleteSession(input: $i) { deletedId } }", {"i": {"id": sid}}
    )
    assert deleted["deleteSession"]["deletedId"] == sid
    assert (await client.data("query($id: ID!) { session(id: $id) { id } }", {"id": sid}))["session"] is None
    assert not services.runner.running or all(str(k) not in sid for k in services.runner.running)
    again = await client.error(
        "mutation($i: DeleteSessionInput!) { deleteSession(input: $i) { deletedId } }", {"i": {"id": sid}}
    )
    assert again["extensions"]["code"] == "NOT_FOUND"


async def test_foreign_sessions_are_not_found_for_every_mutation(graphql, new_key):
    _, owner_secret = await new_key()
    _, other_secret = await new_key()
    sid = await create_session(graphql(owner_secret))
    other = graphql(other_secret)
    mutations = [
        ("sendMessage", "SendMessageInput", {"sessionId": sid, "prompt": "hi"}, "turn { id }"),
        ("interrupt", "InterruptInput", {"sessionId": sid}, "turn { id }"),
        ("forkSession", "ForkSessionInput", {"sessionId": sid}, "session { id }"),
        ("updateSession", "UpdateSessionInput", {"id": sid, "title": "mine now"}, "session { id }"),
        ("archiveSession", "ArchiveSessionInput", {"id": sid}, "session { id }"),
        ("deleteSession", "DeleteSessionInput", {"id": sid}, "deletedId"),
        ("setPermissionMode", "SetPermissionModeInput", {"sessionId": sid, "mode": "PLAN"}, "session { id }"),
        ("setModel", "SetModelInput", {"sessionId": sid, "model": "opus"}, "session { id }"),
    ]
    for name, input_type, values, selection in mutations:
        error = await other.error(f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {selection} }} }}", {"i": values})
        assert error["extensions"]["code"] == "NOT_FOUND", name
    mine = await graphql(owner_secret).data("query($id: ID!) { session(id: $id) { title status options model } }", {"id": sid})
    assert mine["session"]["title"] is None and mine["session"]["status"] == "IDLE"
    assert mine["session"]["options"]["permissionMode"] == "DEFAULT" and mine["session"]["model"] is None


async def test_update_mode_and_model(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client, title="before")
    await client.data(
        "mutation($i: UpdateSessionInput!) { updateSession(input: $i) { session { id } } }",
        {"i": {"id": sid, "title": "after", "metadata": {"k": 1}}},
    )
    await client.data(
        "mutation($i: SetPermissionModeInput!) { setPermissionMode(input: $i) { session { id } } }",
        {"i": {"sessionId": sid, "mode": "PLAN"}},
    )
    await client.data(
        "mutation($i: SetModelInput!) { setModel(input: $i) { session { id } } }", {"i": {"sessionId": sid, "model": "claude-opus-4"}}
    )
    got = await client.data("query($id: ID!) { session(id: $id) { title metadata options model } }", {"id": sid})
    assert got["session"]["title"] == "after" and got["session"]["metadata"] == {"k": 1}
    assert got["session"]["options"]["permissionMode"] == "PLAN" and got["session"]["model"] == "claude-opus-4"
    # The next turn runs with them: the stand-in reports the model it was started with.
    reply = await send(client, sid, "hello", wait=True)
    assert reply["turn"]["status"] == "COMPLETED"


async def test_api_keys_are_admin_only(graphql, new_key):
    _, admin_secret = await new_key(admin=True)
    _, user_secret = await new_key()
    create = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id name isAdmin } } }"
    revoke = "mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) { apiKey { id revokedAt } } }"
    error = await graphql(user_secret).error(create, {"i": {"name": "sneaky"}})
    assert error["extensions"]["code"] == "FORBIDDEN"
    made = (await graphql(admin_secret).data(create, {"i": {"name": "fresh"}}))["createApiKey"]
    assert made["apiKey"]["isAdmin"] is False and made["secret"].startswith("gak_")
    assert (await graphql(made["secret"]).data("{ viewer { apiKey { name } } }"))["viewer"]["apiKey"]["name"] == "fresh"
    error = await graphql(user_secret).error(revoke, {"i": {"id": made["apiKey"]["id"]}})
    assert error["extensions"]["code"] == "FORBIDDEN"
    revoked = await graphql(admin_secret).data(revoke, {"i": {"id": made["apiKey"]["id"]}})
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"]
    error = await graphql(made["secret"]).error("{ viewer { apiKey { name } } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
