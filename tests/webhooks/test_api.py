"""The webhook API: create (secret once), list, page, node ids, delete, and tenancy in SQL."""

from __future__ import annotations

from sqlalchemy import event, select

from graphql_api.api.ids import to_global_id
from graphql_api.store.webhooks import webhooks_table
from tests.webhooks.support import (
    CREATE,
    DELETE,
    create_webhook,
    deliveries,
    finish_turn,
    new_session,
)

LIST = """query($first: Int, $after: String) { webhooks(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id url events } } } }"""

NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on Webhook { url session { id } }
  ... on WebhookDelivery { status eventType webhook { id } } } }"""


async def test_create_list_page_and_find_by_id(hook_services, hook_graphql, hook_key, receiver):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    url = receiver.url(receiver.new_path())
    created = (
        await client.data(
            CREATE,
            {
                "input": {
                    "url": url,
                    "events": ["TURN_FINISHED", "SESSION_ARCHIVED", "TURN_FINISHED"],
                    "sessionId": to_global_id("Session", session),
                }
            },
        )
    )["createWebhook"]
    assert created["secret"].startswith("whsec_")
    assert created["webhook"]["url"] == url
    assert created["webhook"]["events"] == ["TURN_FINISHED", "SESSION_ARCHIVED"]
    assert created["webhook"]["session"] == {"id": to_global_id("Session", session)}
    # The secret is stored so it can sign, but the API never shows it again.
    async with hook_services.db.read() as conn:
        stored = (await conn.execute(select(webhooks_table.c.secret))).scalars().all()
    assert created["secret"] in stored

    others = [await create_webhook(client, url) for _ in range(2)]
    page = (await client.data(LIST, {"first": 2}))["webhooks"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    # Newest first.
    assert [e["node"]["id"] for e in page["edges"]] == [others[1][0], others[0][0]]
    rest = (await client.data(LIST, {"first": 2, "after": page["pageInfo"]["endCursor"]}))[
        "webhooks"
    ]
    assert [e["node"]["id"] for e in rest["edges"]] == [created["webhook"]["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False

    hook = created["webhook"]["id"]
    node = (await client.data(NODE, {"id": hook}))["node"]
    assert node == {
        "__typename": "Webhook",
        "id": hook,
        "url": url,
        "session": {"id": to_global_id("Session", session)},
    }
    await finish_turn(hook_services, owner, session)
    [delivery] = await deliveries(client, hook)
    assert (await client.data(NODE, {"id": delivery["id"]}))["node"] == {
        "__typename": "WebhookDelivery",
        "id": delivery["id"],
        "status": "PENDING",
        "eventType": "TURN_FINISHED",
        "webhook": {"id": hook},
    }


async def test_another_key_can_neither_see_nor_delete_a_webhook(
    hook_services, hook_graphql, hook_key, receiver
):
    owner, secret = await hook_key()
    _, intruder_secret = await hook_key()
    _, admin_secret = await hook_key(admin=True)
    client, intruder, admin = (
        hook_graphql(secret),
        hook_graphql(intruder_secret),
        hook_graphql(admin_secret),
    )
    session = await new_session(hook_services, owner)
    hook, _ = await create_webhook(client, receiver.url(receiver.new_path()))
    await finish_turn(hook_services, owner, session)
    [delivery] = await deliveries(client, hook)

    listed = (await intruder.data(LIST))["webhooks"]
    assert (listed["totalCount"], listed["edges"]) == (0, [])
    for gid in (hook, delivery["id"]):
        assert (await intruder.data(NODE, {"id": gid}))["node"] is None
    error = await intruder.error(DELETE, {"id": hook})
    assert error["extensions"]["code"] == "NOT_FOUND"
    # Nor hang a webhook on another key's session.
    error = await intruder.error(
        CREATE,
        {
            "input": {
                "url": receiver.url("/x"),
                "events": ["TURN_FINISHED"],
                "sessionId": to_global_id("Session", session),
            }
        },
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "NOT_FOUND",
        "input.sessionId",
    )

    # Still there for its owner; an admin key sees it too.
    assert len(await deliveries(client, hook)) == 1
    assert hook in [
        e["node"]["id"] for e in (await admin.data(LIST, {"first": 100}))["webhooks"]["edges"]
    ]

    assert (await client.data(DELETE, {"id": hook}))["deleteWebhook"] == {"deletedId": hook}
    assert (await client.data(NODE, {"id": hook}))["node"] is None
    assert (await client.data(NODE, {"id": delivery["id"]}))["node"] is None
    assert (await client.error(DELETE, {"id": hook}))["extensions"]["code"] == "NOT_FOUND"


async def test_bad_input_names_the_field(hook_graphql, hook_key, receiver):
    _, secret = await hook_key()
    client = hook_graphql(secret)
    url = receiver.url("/x")
    cases = [
        ({"url": url, "events": []}, "input.events"),
        (
            {"url": url, "events": ["TURN_FINISHED"], "sessionId": to_global_id("Turn", url)},
            "input.sessionId",
        ),
        ({"url": "not a url", "events": ["TURN_FINISHED"]}, "input.url"),
        ({"url": "https://no-such-host.invalid/x", "events": ["TURN_FINISHED"]}, "input.url"),
    ]
    for variables, field in cases:
        error = await client.error(CREATE, {"input": variables})
        assert (error["extensions"]["code"], error["extensions"].get("field")) == (
            "BAD_USER_INPUT",
            field,
        )
    error = await client.error(DELETE, {"id": to_global_id("Session", url)})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input.id",
    )


DEEP = """{ webhooks(first: 20) { edges { node { id session { id }
  deliveries(first: 5) { totalCount edges { node { id status attemptHistory { attempt } } } } } } } }"""


async def test_deliveries_of_many_webhooks_cost_a_constant_number_of_statements(
    hook_services, hook_graphql, hook_key, receiver
):
    owner, secret = await hook_key()
    client = hook_graphql(secret)
    session = await new_session(hook_services, owner)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = hook_services.db.engine.sync_engine
    costs = []
    for webhooks in (2, 6):
        while len((await client.data(LIST, {"first": 100}))["webhooks"]["edges"]) < webhooks:
            await create_webhook(client, receiver.url("/x"), session_id=session)
        await finish_turn(hook_services, owner, session)
        await finish_turn(hook_services, owner, session)
        event.listen(engine, "before_cursor_execute", count)
        try:
            statements.clear()
            data = await client.data(DEEP)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(data["webhooks"]["edges"]) == webhooks
        assert all(e["node"]["deliveries"]["totalCount"] >= 2 for e in data["webhooks"]["edges"])
        costs.append(
            len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))])
        )
    # The webhooks page, their sessions, delivery pages, delivery counts, attempts: 5 either way.
    assert costs == [5, 5], costs
