"""The PostgreSQL pool is what the settings say: its size, and no overflow unless asked."""

from __future__ import annotations

from graphql_api.services import Services
from tests.conftest import make_settings


async def test_the_pool_takes_its_size_and_overflow_from_the_settings(database_url):
    if database_url.startswith("sqlite"):
        return  # SQLite has no connection pool to size
    for overrides, size, overflow in (({}, 20, 0), ({"database_pool_size": 7, "database_max_overflow": 3}, 7, 3)):
        services = Services.create(make_settings(database_url, **overrides))
        try:
            pool = services.db.engine.pool
            assert (pool.size(), pool._max_overflow) == (size, overflow)  # type: ignore[attr-defined]
        finally:
            await services.db.dispose()
