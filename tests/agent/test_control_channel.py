"""Commands reach a running turn through Redis, also after Redis restarted mid-turn."""

from __future__ import annotations

import asyncio

import httpx

from graphql_api.app import create_app
from graphql_api.services import Services
from tests.agent.helpers import create_session, send, settle, state, wait_for
from tests.conftest import GraphQLClient, make_settings
from tests.redis_server import RedisServer

RESPOND = "mutation($i: RespondToToolApprovalInput!) { respondToToolApproval(input: $i) { approval { status } } }"


async def test_approval_answer_arrives_after_a_redis_restart(database_url, new_key):
    _, secret = await new_key()
    redis_server = RedisServer().start()
    services = Services.create(make_settings(database_url, redis_url=redis_server.url))
    await services.start()
    try:
        app = create_app(services=services)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as http:
            client = GraphQLClient(http, secret)
            sid = await create_session(client)
            await send(client, sid, '!tool Write {"file_path": "after.txt", "content": "x"}')

            async def pending():
                s = await state(client, sid)
                return s["pendingApprovals"][0] if s["pendingApprovals"] else None

            approval = await wait_for(pending)
            redis_server.stop()
            await asyncio.sleep(0.3)
            redis_server.start()

            async def answered():
                try:
                    await client.data(RESPOND, {"i": {"approvalId": approval["id"], "allow": True}})
                    return True
                except AssertionError:  # the broker is still reconnecting
                    return False

            await wait_for(answered, timeout=15, interval=0.2)
            done = await settle(client, sid, timeout=20)
    finally:
        await services.close()
        redis_server.stop()
    assert done["turns"]["edges"][-1]["node"]["status"] == "COMPLETED"
