"""The leaf fast path (api/fast_fields.py) answers exactly as graphql-core does, errors included,
and leaf fields really take it."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

import pytest
import strawberry
from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_api.api import schema as product_schema
from graphql_api.api.fast_fields import LeafFastPath, install_leaf_fields, install_type_resolvers
from graphql_api.store.seed import insert_sessions
from tests.api.test_nested_page import NESTED


@pytest.fixture
def field_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the fields that went through graphql-core's own `execute_field`."""
    calls: list[str] = []
    original = Executor.execute_field

    def counted(self: Any, parent_type: Any, source: Any, field_details_list: Any, *args: Any) -> Any:
        calls.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return original(self, parent_type, source, field_details_list, *args)

    monkeypatch.setattr(Executor, "execute_field", counted)
    return calls


async def test_the_nested_page_is_the_same_with_and_without_the_fast_path(
    services, quiet_graphql, new_key, field_calls, monkeypatch
):
    key, secret = await new_key()
    await insert_sessions(services.db, key, 6, 5, fork_every=3)
    client = quiet_graphql(secret)
    variables = {"sessions": 6, "messages": 5}

    fast = await client.data(NESTED, variables)
    fast_calls = list(field_calls)
    field_calls.clear()
    # graphql-core's own path: the executor without the mixin's execute_fields.
    monkeypatch.setattr(product_schema._Executor, "execute_fields", Executor.execute_fields)
    slow = await client.data(NESTED, variables)
    slow_calls = list(field_calls)

    assert fast == slow
    assert len(fast["sessions"]["edges"]) == 6
    # Leaves such as Message.sequence and TextBlock.text skip execute_field on the fast path
    # only; objects and connections go through it either way.
    for leaf in ("Message.sequence", "Message.role", "Session.title", "Turn.status"):
        assert leaf in slow_calls
        assert leaf not in fast_calls
    assert "Session.messages" in fast_calls
    assert len(fast_calls) < len(slow_calls) / 2


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Thing:
    name: str
    maybe: str | None
    colour: Colour
    at: datetime
    count: int

    @strawberry.field
    def shout(self) -> str:  # a plain method: takes the short path
        return self.name.upper()

    @strawberry.field
    def named(self, info: strawberry.Info) -> str:  # takes info: left to Strawberry
        return f"{info.field_name}:{self.name}"


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing | None]:
        when = datetime(2026, 1, 2, tzinfo=timezone.utc)
        return [
            Thing(name="ok", maybe=None, colour=Colour.RED, at=when, count=1),
            Thing(name=None, maybe="x", colour=Colour.RED, at=when, count=2),  # type: ignore[arg-type]
            Thing(name="big", maybe=None, colour=Colour.RED, at=when, count=2**40),
            Thing(name="bad", maybe=None, colour="GREEN", at=when, count=3),  # type: ignore[arg-type]
        ]


class _FastExecutor(LeafFastPath, StrawberryGraphQLCoreExecutionContext):
    pass


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(Query)
    fast = strawberry.Schema(Query, execution_context_class=_FastExecutor)
    assert install_leaf_fields(fast._schema) == 6  # five attributes and `shout`
    install_type_resolvers(fast._schema)
    return plain, fast


async def test_nulls_and_refused_values_give_graphql_cores_errors():
    plain, fast = _schemas()
    query = "{ things { name maybe colour at count shout named } }"
    expected = await plain.execute(query)
    got = await fast.execute(query)
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors] == [(e.message, e.path) for e in expected.errors]
    # A null in a non-null field (and a method failing on it), an Int out of range, an unknown
    # enum value: errors nulling their items as the spec says.
    assert {tuple(e.path) for e in got.errors} >= {("things", 1, "name"), ("things", 2, "count"), ("things", 3, "colour")}
    assert got.data == {"things": [
        {"name": "ok", "maybe": None, "colour": "RED", "at": "2026-01-02T00:00:00+00:00", "count": 1,
         "shout": "OK", "named": "named:ok"},
        None, None, None,
    ]}  # fmt: skip


async def test_aliases_and_order_are_kept():
    plain, fast = _schemas()
    query = "{ things { count a: name colour b: count } }"
    expected = await plain.execute(query)
    got = await fast.execute(query)
    assert list(got.data["things"][0]) == ["count", "a", "colour", "b"]
    assert got.data == expected.data
