"""Bad arguments are coded GraphQL errors, never a 500 or a stack trace."""

from __future__ import annotations

import pytest

from graphql_api.api.ids import to_global_id
from graphql_api.store.seed import insert_sessions

SESSIONS = "query($first: Int, $last: Int, $after: String, $before: String) { sessions(first: $first, last: $last, after: $after, before: $before) { edges { node { id } } } }"


@pytest.fixture
async def client_and_session(services, graphql, new_key):
    key, secret = await new_key()
    [session_id] = await insert_sessions(services.db, key, 1, 3, fork_every=0)
    return graphql(secret), to_global_id("Session", session_id)


@pytest.mark.parametrize(
    "variables, field",
    [
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"last": 1000000}, "last"),
        ({"first": 2, "last": 2}, "last"),
        ({"after": "garbage!"}, "after"),
        ({"before": "eyJub3QiOiAiYSBsaXN0In0"}, "before"),
    ],
)
async def test_bad_page_arguments(client_and_session, variables, field):
    client, _ = client_and_session
    error = await client.error(SESSIONS, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert "Traceback" not in error["message"]


async def test_cursor_of_another_list_is_refused(client_and_session):
    client, session_id = client_and_session
    data = await client.data(
        "query($id: ID!) { session(id: $id) { messages(first: 1) { pageInfo { endCursor } } } }",
        {"id": session_id},
    )
    message_cursor = data["session"]["messages"]["pageInfo"]["endCursor"]
    error = await client.error(SESSIONS, {"first": 5, "after": message_cursor})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}
    assert "another list" in error["message"]
    # A sessions cursor of one order is not a cursor of another order.
    data = await client.data("{ sessions(first: 1) { pageInfo { endCursor } } }")
    cursor = data["sessions"]["pageInfo"]["endCursor"]
    error = await client.error(
        "query($c: String) { sessions(first: 1, after: $c, orderBy: UPDATED_AT_DESC) { edges { cursor } } }",
        {"c": cursor},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("bad_id", ["", "not-base64-$$$", "U2Vzc2lvbjpub3QtYS11dWlk", "Tm9wZToxMjM"])
async def test_malformed_ids(client_and_session, bad_id):
    client, _ = client_and_session
    error = await client.error("query($id: ID!) { session(id: $id) { id } }", {"id": bad_id})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await client.error("query($id: ID!) { node(id: $id) { id } }", {"id": bad_id})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_id_of_another_type_for_session(client_and_session):
    client, _ = client_and_session
    error = await client.error(
        "query($id: ID!) { session(id: $id) { id } }", {"id": to_global_id("Turn", "0" * 32)}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not a Session ID" in error["message"]


async def test_filter_input_errors(client_and_session):
    client, _ = client_and_session
    error = await client.error('{ sessions(filter: { metadataContains: [1, 2] }) { totalCount } }')
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.metadataContains"}
    error = await client.error('{ sessions(filter: { parentId: "nope" }) { totalCount } }')
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "filter.parentId"}


async def test_invalid_documents_are_coded(client_and_session):
    client, _ = client_and_session
    error = await client.error("{ sessions { nope } }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    error = await client.error("{ sessions(")
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    error = await client.error("query($n: Int) { sessions(first: $n) { totalCount } }", {"n": "x"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_too_many_node_ids(client_and_session):
    client, session_id = client_and_session
    error = await client.error("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [session_id] * 101})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_no_key_is_unauthenticated(graphql):
    error = await graphql(None).error("{ sessions { totalCount } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    error = await graphql("gak_wrong").error("{ viewer { sessionCount } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
