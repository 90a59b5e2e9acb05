"""Keyset pages: every session exactly once, in order, forwards and backwards, during inserts."""

from __future__ import annotations

import pytest

from graphql_api.api.ids import from_global_id, to_global_id
from graphql_api.store.seed import insert_sessions

PAGE = """
query Page($first: Int, $after: String, $last: Int, $before: String, $order: SessionOrder) {
  sessions(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id createdAt updatedAt } }
  }
}
"""

ORDERS = {
    "CREATED_AT_DESC": ("createdAt", True),
    "CREATED_AT_ASC": ("createdAt", False),
    "UPDATED_AT_DESC": ("updatedAt", True),
}


async def _walk(client, order: str, forward: bool, on_page) -> list[dict]:
    seen: list[dict] = []
    cursor = None
    while True:
        variables = {"order": order}
        if forward:
            variables.update(first=7, after=cursor)
        else:
            variables.update(last=7, before=cursor)
        conn = (await client.data(PAGE, variables))["sessions"]
        nodes = [e["node"] for e in conn["edges"]]
        assert len(nodes) <= 7
        if conn["edges"]:
            assert conn["pageInfo"]["startCursor"] == conn["edges"][0]["cursor"]
            assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        seen.extend(nodes if forward else reversed(nodes))
        await on_page()
        more = conn["pageInfo"]["hasNextPage"] if forward else conn["pageInfo"]["hasPreviousPage"]
        if not more:
            return seen
        cursor = conn["pageInfo"]["endCursor"] if forward else conn["pageInfo"]["startCursor"]


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("forward", [True, False], ids=["forwards", "backwards"])
async def test_walk_returns_every_session_once_in_order(services, graphql, new_key, order, forward):
    key, secret = await new_key()
    original = set(map(str, await insert_sessions(services.db, key, 250, 0, fork_every=0)))
    client = graphql(secret)

    async def insert_more() -> None:
        await insert_sessions(services.db, key, 1, 0, fork_every=0)

    seen = await _walk(client, order, forward, insert_more)
    ids = [n["id"] for n in seen]
    assert len(ids) == len(set(ids)), "a session came twice"
    keys = {str(from_global_id(i)[1]) for i in ids}
    assert original <= keys, "a session present from the start was skipped"
    field, descending = ORDERS[order]
    # Seen in the list's order, whichever way we walked.
    listed = seen if forward else list(reversed(seen))
    stamps = [n[field] for n in listed]
    assert stamps == sorted(stamps, reverse=descending)


async def test_child_lists_page_both_ways(services, graphql, new_key):
    key, secret = await new_key()
    [session_id] = await insert_sessions(services.db, key, 1, 23, fork_every=0)
    sid = to_global_id("Session", session_id)
    client = graphql(secret)
    query = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      session(id: $id) { messages(first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { node { sequence } } } } }"""
    sequences, cursor = [], None
    while True:
        page = (await client.data(query, {"id": sid, "first": 5, "after": cursor}))["session"]["messages"]
        sequences += [e["node"]["sequence"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert sequences == list(range(1, 24))

    backwards, cursor = [], None
    while True:
        page = (await client.data(query, {"id": sid, "last": 5, "before": cursor}))["session"]["messages"]
        backwards = [e["node"]["sequence"] for e in page["edges"]] + backwards
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        cursor = page["pageInfo"]["startCursor"]
    assert backwards == list(range(1, 24))
    assert page["totalCount"] == 23
