"""Tenancy: another key's ids give nothing, whichever field asks; an admin key sees all."""

from __future__ import annotations

from graphql_api.api.ids import to_global_id
from graphql_api.store.seed import insert_sessions

ALL_IDS = """query($id: ID!) { session(id: $id) {
  id messages(first: 100) { edges { node { id } } } turns(first: 100) { edges { node { id } } }
  checkpoints(first: 100) { edges { node { id } } } forks { edges { node { id } } } } }"""


async def _ids_of(client, session_gid: str) -> dict[str, list[str]]:
    s = (await client.data(ALL_IDS, {"id": session_gid}))["session"]
    return {
        kind: [e["node"]["id"] for e in s[kind]["edges"]]
        for kind in ("messages", "turns", "checkpoints", "forks")
    } | {"session": [s["id"]]}


async def test_other_keys_see_nothing(services, graphql, new_key):
    a_key, a_secret = await new_key()
    b_key, b_secret = await new_key()
    admin_key, admin_secret = await new_key(admin=True)
    a_sessions = await insert_sessions(services.db, a_key, 3, 6, fork_every=2)
    b_sessions = await insert_sessions(services.db, b_key, 2, 6, fork_every=2)
    a, b, admin = graphql(a_secret), graphql(b_secret), graphql(admin_secret)

    a_gid = to_global_id("Session", a_sessions[0])
    a_ids = await _ids_of(a, a_gid)
    every_a_id = [i for ids in a_ids.values() for i in ids] + [to_global_id("ApiKey", a_key)]
    assert len(every_a_id) > 10

    # B cannot read A's session, nor any of A's objects through node / nodes.
    assert (await b.data("query($id: ID!) { session(id: $id) { id } }", {"id": a_gid}))["session"] is None
    for gid in every_a_id:
        assert (await b.data("query($id: ID!) { node(id: $id) { id } }", {"id": gid}))["node"] is None
    nodes = (await b.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": every_a_id}))["nodes"]
    assert nodes == [None] * len(every_a_id)

    # Lists and totals only ever hold B's own sessions.
    b_list = (await b.data("{ sessions(first: 100) { totalCount edges { node { id } } } viewer { sessionCount apiKey { id } } }"))
    b_gids = {to_global_id("Session", s) for s in b_sessions}
    assert {e["node"]["id"] for e in b_list["sessions"]["edges"]} == b_gids
    assert b_list["sessions"]["totalCount"] == 2
    assert b_list["viewer"]["sessionCount"] == 2
    filtered = await b.data(
        "query($p: ID!) { sessions(filter: { parentId: $p }) { totalCount } }", {"p": a_gid}
    )
    assert filtered["sessions"]["totalCount"] == 0

    # The admin key sees both tenants' objects.
    assert await _ids_of(admin, a_gid) == a_ids
    admin_nodes = (await admin.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": every_a_id}))["nodes"]
    assert [n["id"] for n in admin_nodes] == every_a_id
    b_nodes = (await admin.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": sorted(b_gids)}))
    assert {n["id"] for n in b_nodes["nodes"]} == b_gids
    b_forks = await admin.data(
        "query($p: ID!) { sessions(filter: { parentId: $p }) { totalCount } }",
        {"p": to_global_id("Session", b_sessions[0])},
    )
    assert b_forks["sessions"]["totalCount"] == 1
    # ...but the viewer's totals are the admin key's own.
    assert (await admin.data("{ viewer { sessionCount } }"))["viewer"]["sessionCount"] == 0
