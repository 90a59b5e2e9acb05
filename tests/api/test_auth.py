"""API keys: both headers, revocation, hashes only, last use recorded without a write per request."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from graphql_api.domain.api_keys import ApiKeyService
from graphql_api.store.api_keys import api_keys_table
from graphql_api.store.database import Database


async def test_bearer_and_x_api_key(http, new_key):
    _, secret = await new_key(name="headers")
    query = {"query": "{ viewer { apiKey { name isAdmin } } }"}
    for headers in ({"Authorization": f"Bearer {secret}"}, {"X-API-Key": secret}, {"authorization": f"bearer {secret}"}):
        body = (await http.post("/graphql", json=query, headers=headers)).json()
        assert body["data"]["viewer"]["apiKey"] == {"name": "headers", "isAdmin": False}
    body = (await http.post("/graphql", json=query, headers={"Authorization": f"Basic {secret}"})).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_get_requests_run_queries(http, new_key):
    _, secret = await new_key()
    response = await http.get(
        "/graphql", params={"query": "{ serverInfo { version agentBackend } }"}, headers={"X-API-Key": secret}
    )
    assert response.status_code == 200
    assert response.json()["data"]["serverInfo"]["agentBackend"] in {"claude", "demo"}


async def test_only_the_hash_is_stored(services, new_key):
    key_id, secret = await new_key()
    async with services.db.read() as conn:
        row = (await conn.execute(select(api_keys_table).where(api_keys_table.c.id == key_id))).one()
    assert secret not in [str(v) for v in row]
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(row.prefix) and len(row.prefix) < len(secret) // 2


async def test_revoked_key_is_refused(services, new_key):
    key_id, secret = await new_key()
    # A service with no verification cache sees the revocation at once.
    fresh = ApiKeyService(services.db, cache_seconds=0)
    assert await fresh.authenticate(secret) is not None
    from graphql_api.store.api_keys import ApiKeyRepository
    from graphql_api.store.types import utcnow

    async with services.db.transaction() as conn:
        assert await ApiKeyRepository(conn).revoke(key_id, utcnow())
    assert await fresh.authenticate(secret) is None
    await fresh.flush()


async def test_last_used_is_written_at_most_once_per_interval(database_url, new_key):
    _, secret = await new_key()
    db = Database(database_url)
    writes: list[str] = []
    from sqlalchemy import event

    def on_statement(conn, cursor, statement, *args):  # noqa: ANN001
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            writes.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", on_statement)
    service = ApiKeyService(db, cache_seconds=0, touch_interval=3600)
    try:
        for _ in range(20):
            assert await service.authenticate(secret) is not None
        await service.flush()
        assert len(writes) == 1
        async with db.read() as conn:
            row = (await conn.execute(select(api_keys_table).where(api_keys_table.c.key_hash == hashlib.sha256(secret.encode()).hexdigest()))).one()
        assert row.last_used_at is not None
    finally:
        await db.dispose()
