"""Loopback PostgreSQL connections skip TLS unless the URL asks for it (a handshake on every
new pooled connection buys nothing on 127.0.0.1)."""

from __future__ import annotations

import asyncpg
import pytest

from graphql_api.domain.errors import DatabaseUnavailable
from graphql_api.store.database import Database
from tests.conftest import PG_ADMIN_DSN


async def _uses_tls(url: str) -> bool:
    db = Database(url)
    try:
        async with db.read() as conn:
            raw = await conn.get_raw_connection()
            return raw.driver_connection._transport.get_extra_info("ssl_object") is not None  # noqa: SLF001
    finally:
        await db.dispose()


async def test_loopback_connections_skip_tls_unless_asked():
    url = "postgresql+asyncpg://" + PG_ADMIN_DSN.split("://", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        server_offers_tls = (await admin.fetchval("show ssl")) == "on"
    finally:
        await admin.close()
    assert not await _uses_tls(url)
    # What the URL says wins: `ssl=require` gets TLS from a server that offers it, and is
    # refused by one that does not (rather than silently going without).
    if server_offers_tls:
        assert await _uses_tls(url + "?ssl=require")
    else:
        with pytest.raises(DatabaseUnavailable):
            await _uses_tls(url + "?ssl=require")
