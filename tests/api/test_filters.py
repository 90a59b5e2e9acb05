"""Session filters: status, parent, title, metadata containment, creation window."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from graphql_api.api.ids import to_global_id
from graphql_api.store.scoping import sessions_table
from graphql_api.store.seed import insert_sessions
from graphql_api.store.types import utcnow

COUNT = "query($f: SessionFilter) { sessions(filter: $f, first: 100) { totalCount edges { node { id title } } } }"


async def test_filters(services, graphql, new_key):
    key, secret = await new_key()
    ids = await insert_sessions(services.db, key, 6, 1, fork_every=3)
    async with services.db.transaction() as conn:
        await conn.execute(update(sessions_table).where(sessions_table.c.id == ids[0]).values(
            status="ARCHIVED", title="Fix the Parser_bug 100%", metadata={"team": "core", "tags": ["a", "b"], "n": 1}
        ))  # fmt: skip
    client = graphql(secret)

    async def count(f: dict) -> int:
        return (await client.data(COUNT, {"f": f}))["sessions"]["totalCount"]

    assert await count({"status": ["ARCHIVED"]}) == 1
    assert await count({"status": ["IDLE", "ARCHIVED"]}) == 6
    assert await count({"parentId": to_global_id("Session", ids[1])}) == 1  # session 2 forks session 1
    assert await count({"titleContains": "parser_BUG 100%"}) == 1
    assert await count({"titleContains": "r_b"}) == 1  # underscore is literal, not a wildcard
    assert await count({"titleContains": "%"}) == 1
    assert await count({"metadataContains": {"team": "core"}}) == 1
    assert await count({"metadataContains": {"team": "core", "n": 1}}) == 1
    assert await count({"metadataContains": {"team": "other"}}) == 0
    assert await count({"metadataContains": {"project": "demo"}}) == 5
    now = utcnow()
    assert await count({"createdAfter": (now - timedelta(days=1)).isoformat()}) == 6
    assert await count({"createdBefore": (now - timedelta(days=1)).isoformat()}) == 0
    assert await count({"createdAfter": now.isoformat()}) == 0
