"""Fast tier: turns through the real claude-agent-sdk and the project's stand-in CLI."""

from __future__ import annotations

import asyncio

from graphql_api.services import Services
from tests.agent.helpers import create_session, send, sequences, settle, state, texts, wait_for
from tests.conftest import GraphQLClient, make_settings


async def test_multi_turn_conversation_remembers_and_records_everything(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client, title="memory", prompt="my name is Ada")
    first = await settle(client, sid)
    second = await send(client, sid, "!recall", wait=True)
    assert second["turn"]["status"] == "COMPLETED"
    assert "1. my name is Ada" in second["turn"]["result"]
    assert second["turn"]["costUsd"] > 0 and second["turn"]["numTurns"] >= 1
    done = await settle(client, sid)
    assert done["status"] == "IDLE" and done["totalTurns"] == 2
    assert abs(done["totalCostUsd"] - sum(e["node"]["costUsd"] for e in done["turns"]["edges"])) < 1e-9
    assert done["agentSessionId"] == first["agentSessionId"] is not None
    roles = [e["node"]["role"] for e in done["messages"]["edges"]]
    assert roles == ["USER", "ASSISTANT", "RESULT", "USER", "ASSISTANT", "RESULT"]
    assert sequences(done) == list(range(1, 7)) and done["lastSequence"] == 6
    assert texts(done, "USER") == ["my name is Ada", "!recall"]


async def test_resume_after_the_server_restarts(database_url, new_key, http, tmp_path):
    """A new server process (fresh config dir, nothing on local disk) resumes from the database."""
    import httpx

    from graphql_api.app import create_app

    _, secret = await new_key()
    first_services = Services.create(make_settings(database_url, claude_config_dir=tmp_path / "a"))
    await first_services.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=first_services)), base_url="http://a") as a:
            client = GraphQLClient(a, secret)
            sid = await create_session(client, prompt="remember the word heron")
            await settle(client, sid)
    finally:
        await first_services.close()
    second_services = Services.create(make_settings(database_url, claude_config_dir=tmp_path / "b"))
    await second_services.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=second_services)), base_url="http://b") as b:
            client = GraphQLClient(b, secret)
            reply = await send(client, sid, "!recall", wait=True)
    finally:
        await second_services.close()
    assert reply["turn"]["status"] == "COMPLETED"
    assert "remember the word heron" in reply["turn"]["result"]


async def test_fork_continues_from_the_parent_and_links_to_it(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client, title="origin", prompt="alpha")
    await settle(client, sid)
    await send(client, sid, "beta", wait=True)
    parent = await settle(client, sid)
    first_turn = parent["turns"]["edges"][0]["node"]["id"]

    forked = await client.data(
        "mutation($i: ForkSessionInput!) { forkSession(input: $i) { session { id title parent { id } agentSessionId } } }",
        {"i": {"sessionId": sid}},
    )
    fork = forked["forkSession"]["session"]
    assert fork["parent"]["id"] == sid and fork["title"] == "origin (fork)"
    reply = await send(client, fork["id"], "!recall", wait=True)
    assert reply["turn"]["status"] == "COMPLETED", reply
    assert "1. alpha" in reply["turn"]["result"] and "2. beta" in reply["turn"]["result"]
    fork_state = await state(client, fork["id"])
    assert fork_state["agentSessionId"] not in (None, parent["agentSessionId"])
    # The parent goes on unaffected by what the fork was told.
    parent_reply = await send(client, sid, "!recall", wait=True)
    assert "!recall" not in parent_reply["turn"]["result"].split("\n")[-1] or "3." not in parent_reply["turn"]["result"]
    listed = await client.data("query($id: ID!) { session(id: $id) { forks { totalCount edges { node { id } } } } }", {"id": sid})
    assert [e["node"]["id"] for e in listed["session"]["forks"]["edges"]] == [fork["id"]]

    # As of a given turn: the fork knows only what was said up to that turn.
    early = await client.data(
        "mutation($i: ForkSessionInput!) { forkSession(input: $i) { session { id } } }",
        {"i": {"sessionId": sid, "turnId": first_turn, "title": "early"}},
    )
    early_reply = await send(client, early["forkSession"]["session"]["id"], "!recall", wait=True)
    assert early_reply["turn"]["status"] == "COMPLETED", early_reply
    assert "1. alpha" in early_reply["turn"]["result"]
    assert "beta" not in early_reply["turn"]["result"]


async def test_interrupt_mid_stream_keeps_what_was_said(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    started = await send(client, sid, "!slow 200 0.02")
    turn_id = started["turn"]["id"]
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    result = await client.data(
        "mutation($i: InterruptInput!) { interrupt(input: $i) { turn { id } } }", {"i": {"sessionId": sid}}
    )
    assert result["interrupt"]["turn"]["id"] == turn_id

    async def interrupted():
        s = await state(client, sid)
        turn = s["turns"]["edges"][-1]["node"]
        return s if turn["status"] == "INTERRUPTED" and s["status"] == "IDLE" else None

    final = await wait_for(interrupted, timeout=5)
    assert loop.time() - asked < 1.0
    said = texts(final, "ASSISTANT")
    assert said and said[0].startswith("chunk 0 chunk 1")
    assert sequences(final) == list(range(1, len(sequences(final)) + 1))


async def test_busy_strategies(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    await send(client, sid, "!slow 40 0.02")
    error = await client.error(
        "mutation($i: SendMessageInput!) { sendMessage(input: $i) { turn { id } } }",
        {"i": {"sessionId": sid, "prompt": "rejected"}},
    )
    assert error["extensions"]["code"] == "TURN_IN_PROGRESS"
    queued = [await send(client, sid, f"queued {i}", ifBusy="ENQUEUE") for i in range(3)]
    assert {q["turn"]["status"] for q in queued} == {"QUEUED"}
    done = await settle(client, sid)
    prompts = [e["node"]["prompt"] for e in done["turns"]["edges"]]
    assert prompts == ["!slow 40 0.02", "queued 0", "queued 1", "queued 2"]
    assert {e["node"]["status"] for e in done["turns"]["edges"]} == {"COMPLETED"}
    assert "rejected" not in prompts
    assert texts(done, "USER") == prompts  # ran in order

    await send(client, sid, "!slow 300 0.02")
    await asyncio.sleep(0.2)
    replacing = await send(client, sid, "replacement", ifBusy="INTERRUPT")
    done = await settle(client, sid)
    last_two = [e["node"] for e in done["turns"]["edges"]][-2:]
    assert [t["status"] for t in last_two] == ["INTERRUPTED", "COMPLETED"]
    assert last_two[1]["id"] == replacing["turn"]["id"] and last_two[1]["result"] == "Echo: replacement"


async def test_failures_are_values_and_the_queue_goes_on(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    await send(client, sid, "!error something broke")
    await send(client, sid, "!crash 3", ifBusy="ENQUEUE")
    await send(client, sid, "!api-error 429 slow down", ifBusy="ENQUEUE")
    await send(client, sid, "!max-turns", ifBusy="ENQUEUE")
    await send(client, sid, "after the failures", ifBusy="ENQUEUE")
    done = await settle(client, sid)
    turns = [e["node"] for e in done["turns"]["edges"]]
    assert [t["status"] for t in turns] == ["FAILED", "FAILED", "FAILED", "FAILED", "COMPLETED"]
    assert "something broke" in turns[0]["error"]
    assert "exit code 3" in turns[1]["error"]
    assert turns[2]["error"]
    assert "maximum number of turns" in turns[3]["error"]
    assert turns[4]["result"] == "Echo: after the failures"
    assert done["status"] == "IDLE" and done["totalTurns"] == 1


async def test_missing_cli_fails_the_turn_readably(database_url, new_key, tmp_path):
    import httpx

    from graphql_api.app import create_app

    _, secret = await new_key()
    services = Services.create(make_settings(database_url, claude_cli_path=str(tmp_path / "no-such-claude")))
    await services.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=services)), base_url="http://x") as http:
            client = GraphQLClient(http, secret)
            sid = await create_session(client)
            reply = await send(client, sid, "hello", wait=True)
            health = await http.get("/healthz")
    finally:
        await services.close()
    assert reply["turn"]["status"] == "FAILED"
    assert "not found" in reply["turn"]["error"].lower()
    assert reply["session"]["status"] == "IDLE"
    assert health.status_code == 200


async def test_structured_output_and_images(graphql, new_key):
    _, secret = await new_key()
    client = graphql(secret)
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    sid = await create_session(client, outputSchema=schema)
    reply = await send(client, sid, '!structured {"answer": 42}', wait=True)
    assert reply["turn"]["structuredOutput"] == {"answer": 42}
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    sid = await create_session(client)
    reply = await send(client, sid, "look", wait=True, images=[{"mediaType": "image/png", "data": pixel}])
    assert reply["turn"]["result"] == "Echo: look (received 1 image)"
    stored = await state(client, sid)
    user_blocks = [e["node"]["content"] for e in stored["messages"]["edges"] if e["node"]["role"] == "USER"][-1]
    assert [b["__typename"] for b in user_blocks] == ["TextBlock", "ImageBlock"]
