"""`alembic upgrade head` on an empty database gives exactly what the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from graphql_api.store import models  # noqa: F401
from graphql_api.store.migrate import objects_of_dialect


def _diff(connection, include_object):  # noqa: ANN001, ANN202
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    return compare_metadata(context, SQLModel.metadata)


async def test_migrated_schema_matches_models(database_url):
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: _diff(c, objects_of_dialect(c.dialect.name)))
    finally:
        await engine.dispose()
    assert diff == []
