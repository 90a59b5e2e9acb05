"""A finished request leaves nothing for the garbage collector (api/acyclic_executor.py): its
executor, context, loaders and loaded rows are freed by reference counting."""

from __future__ import annotations

import gc

import pytest

from graphql_api.store.seed import insert_sessions
from tests.api.test_nested_page import NESTED

KEPT_BY_A_CYCLE = {"_Executor", "RequestContext", "Loaders", "DataLoader", "Page"}


@pytest.fixture
def saved_garbage():
    """What the collector finds unreachable while the test runs, kept for inspection."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_a_nested_page_leaves_no_cycle_behind(services, quiet_graphql, new_key, saved_garbage):
    key, secret = await new_key()
    await insert_sessions(services.db, key, 4, 3)
    client = quiet_graphql(secret)
    await client.data(NESTED, {"sessions": 4, "messages": 3})  # warm: caches, first-use objects
    gc.collect()
    saved_garbage.clear()

    page = await client.data(NESTED, {"sessions": 4, "messages": 3})
    gc.collect()

    assert len(page["sessions"]["edges"]) == 4
    found = {type(o).__name__ for o in saved_garbage} & KEPT_BY_A_CYCLE
    assert not found, f"a finished request was kept by a reference cycle: {sorted(found)}"
