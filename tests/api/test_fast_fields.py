"""The fast paths (api/fast_fields.py) answer exactly as graphql-core does, errors included,
and leaf and plain object fields really take them."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Annotated, Any

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
    assert install_leaf_fields(fast._schema) == 7  # five attributes, `shout`, and `Query.things`
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


# --- plain object fields ------------------------------------------------------------------


@strawberry.type
class Leaf:
    value: int | None
    must: int

    @strawberry.field
    async def later(self) -> int:  # async below an object read: the result is awaited
        if self.must < 0:
            raise ValueError("later failed")
        return self.must * 10


@strawberry.type
class Other:
    label: str


Item = Annotated[Leaf | Other, strawberry.union("Item")]


class NotAType:
    """A value of no schema type: graphql-core refuses it with its own message."""


@strawberry.type
class Holder:
    one: Leaf
    maybe: Leaf | None
    items: list[Leaf]
    loose: list[Leaf | None] | None
    mixed: list[Item]

    @strawberry.field
    def broken(self) -> Leaf | None:  # a plain method that fails
        raise RuntimeError("broken read")


def _holder(**overrides: Any) -> Holder:
    fields: dict[str, Any] = {
        "one": Leaf(value=1, must=1),
        "maybe": None,
        "items": [Leaf(value=2, must=2), Leaf(value=None, must=3)],
        "loose": [None, Leaf(value=4, must=4)],
        "mixed": [Other(label="o"), Leaf(value=5, must=5)],
    }
    fields.update(overrides)
    return Holder(**fields)


@strawberry.type
class HolderQuery:
    @strawberry.field
    def holders(self) -> list[Holder | None]:
        return [
            _holder(),
            _holder(items=[Leaf(value=1, must=1), None]),  # a null item in [Leaf!]!
            _holder(one=Leaf(value=1, must=None)),  # a null in a non-null leaf below an object
            _holder(mixed=[NotAType()]),  # an item of no type
            _holder(loose=[Leaf(value=1, must=-1)]),  # an awaited field fails below a list
            _holder(maybe=Leaf(value=7, must=7)),
            _holder(items="not a list"),
        ]


class _HolderExecutor(LeafFastPath, StrawberryGraphQLCoreExecutionContext):
    pass


HOLDERS = """{ holders {
  one { value must later }
  maybe { value must }
  items { value must later }
  loose { value must later }
  mixed { __typename ... on Leaf { value later } ... on Other { label } }
  broken { value }
} }"""


async def test_object_fields_answer_as_graphql_core_does(monkeypatch):
    plain = strawberry.Schema(HolderQuery)
    fast = strawberry.Schema(HolderQuery, execution_context_class=_HolderExecutor)
    install_leaf_fields(fast._schema)
    install_type_resolvers(fast._schema)
    object_fields: list[str] = []
    original = LeafFastPath._object_field

    def counted(self: Any, parent_type: Any, source: Any, fields: Any, path: Any, name: str, marker: Any) -> Any:
        object_fields.append(f"{parent_type.name}.{name}")
        return original(self, parent_type, source, fields, path, name, marker)

    monkeypatch.setattr(LeafFastPath, "_object_field", counted)
    expected = await plain.execute(HOLDERS)
    got = await fast.execute(HOLDERS)

    assert got.data == expected.data
    def described(errors: Any) -> list[tuple[str, tuple[Any, ...]]]:
        return sorted((e.message, tuple(e.path)) for e in errors)
    assert described(got.errors) == described(expected.errors)
    # Each kind of failure happened, and nulled what the spec says it nulls.
    messages = " | ".join(e.message for e in got.errors)
    for part in ("Cannot return null for non-nullable field Holder.items", "Leaf.must",
                 "later failed", "broken read", "Expected Iterable"):
        assert part in messages
    assert got.data["holders"][0]["items"] == [{"value": 2, "must": 2, "later": 20}, {"value": None, "must": 3, "later": 30}]
    assert got.data["holders"][1] is None and got.data["holders"][2] is None
    assert got.data["holders"][4]["loose"] == [None]
    # ... and the object fields really took the short path.
    assert {"Holder.one", "Holder.items", "Holder.mixed", "Holder.loose", "Holder.broken"} <= set(object_fields)
