"""The direct call (api/plain_resolvers.py) answers exactly as Strawberry's resolver does, errors
included, and only fields whose arguments need no conversion get it."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.relay import GlobalID

from graphql_api.api.plain_resolvers import PLAIN, install_plain_resolvers
from graphql_api.api.schema import schema as product_schema


@strawberry.enum
class Shade(enum.Enum):
    DARK = "dark"


@strawberry.input
class Window:
    size: int


class Never(BasePermission):
    message = "not allowed"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Box:
    label: str

    @strawberry.field
    async def items(
        self, info: strawberry.Info, first: int | None = None, after_label: str | None = None
    ) -> list[str]:
        """Async, takes info, an argument renamed (afterLabel), defaults from Python."""
        names = [f"{self.label}-{i}" for i in range(5)]
        if after_label is not None:
            names = [n for n in names if n > after_label]
        return names[:first] if first is not None else [*names, info.field_name]

    @strawberry.field
    def echo(self, text: str, times: int = 2) -> str:
        """Sync, a required argument and a GraphQL default."""
        return text * times

    @strawberry.field
    async def broken(self, reason: str) -> str | None:
        raise ValueError(f"broken: {reason}")

    @strawberry.field
    def strict(self, reason: str) -> str:
        raise ValueError(f"strict: {reason}")  # non-null: the error nulls the parent

    @strawberry.field
    @staticmethod
    def constant(value: float = 1.5) -> float:
        return value * 2

    @strawberry.field
    def context_name(self, info: strawberry.Info) -> str:
        return info.context["name"]

    # Not eligible: Strawberry converts these arguments, checks a permission or passes the parent.
    @strawberry.field
    def shaded(self, shade: Shade) -> str:
        return f"{shade.value}:{type(shade).__name__}"

    @strawberry.field
    def windowed(self, window: Window) -> int:
        return window.size

    @strawberry.field
    def maybe(self, value: strawberry.Maybe[int | None] = None) -> str:
        return repr(value)

    @strawberry.field
    def maybe_given(self, value: strawberry.Maybe[int] = None) -> str:
        return repr(value)

    @strawberry.field
    def global_id(self, id: GlobalID) -> str:
        return f"{id.type_name}/{id.node_id}"

    @strawberry.field(permission_classes=[Never])
    def guarded(self) -> str | None:
        return "secret"

    @strawberry.field
    def with_parent(self, parent: strawberry.Parent[Any]) -> str:
        return parent.label


@strawberry.type
class Query:
    @strawberry.field
    def box(self, label: str = "b") -> Box:
        return Box(label=label)

    @strawberry.field
    def boxes(self) -> list[Box]:
        return [Box(label="x"), Box(label="y")]


ELIGIBLE = {"Box.items", "Box.echo", "Box.broken", "Box.strict", "Box.constant", "Box.contextName", "Query.box", "Query.boxes"}
LEFT_TO_STRAWBERRY = {"Box.shaded", "Box.windowed", "Box.maybe", "Box.maybeGiven", "Box.globalId", "Box.guarded", "Box.withParent"}


def plain_fields(built: strawberry.Schema) -> set[str]:
    return {
        f"{type_.name}.{name}"
        for type_ in built._schema.type_map.values()
        if not type_.name.startswith("__") and hasattr(type_, "fields")
        for name, field in type_.fields.items()
        if getattr(field, PLAIN, False)
    }


@pytest.fixture(scope="module")
def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    direct = strawberry.Schema(query=Query)
    assert install_plain_resolvers(direct) == len(ELIGIBLE)
    return direct, strawberry.Schema(query=Query)


def test_only_fields_whose_arguments_need_no_conversion_get_the_direct_call(schemas):
    direct, strawberry_only = schemas
    assert plain_fields(direct) == ELIGIBLE
    assert plain_fields(strawberry_only) == set()
    assert not ELIGIBLE & LEFT_TO_STRAWBERRY


DOCUMENTS = [
    ('{ box { label items } }', None),
    ('{ box(label: "q") { items(first: 2) } }', None),
    ('query($a: String) { box { items(afterLabel: $a, first: 9) } }', {"a": "b-2"}),
    ('query($a: String) { box { items(afterLabel: $a) } }', {"a": None}),
    ('{ box { echo(text: "ab") three: echo(text: "c", times: 3) } }', None),
    ('{ boxes { label broken(reason: "x") } }', None),
    ('{ boxes { label strict(reason: "y") } box { label } }', None),
    ('{ box { constant half: constant(value: 0.25) } }', None),
    ('{ box { contextName } }', None),
    ('{ box { shaded(shade: DARK) windowed(window: {size: 3}) maybe(value: 4) nothing: maybe maybeGiven(value: 5) } }', None),
    ('{ box { globalId(id: "Qm94OjE=") guarded withParent } }', None),
    ('{ box { echo(text: 5) } }', None),  # refused by validation, the same either way
    ('query($t: String!) { box { echo(text: $t) } }', {"t": None}),  # refused coercion
]


@pytest.mark.parametrize(("document", "variables"), DOCUMENTS)
async def test_the_direct_call_answers_as_strawberry_does(schemas, document, variables):
    direct, strawberry_only = schemas
    context = {"name": "ctx"}
    fast = await direct.execute(document, variable_values=variables, context_value=context)
    slow = await strawberry_only.execute(document, variable_values=variables, context_value=context)
    assert fast.data == slow.data
    assert [e.formatted for e in fast.errors or []] == [e.formatted for e in slow.errors or []]


async def test_answers_include_errors_where_expected(schemas):
    """The comparison above is not vacuous: the documents do reach the resolvers' errors."""
    direct, _ = schemas
    result = await direct.execute('{ boxes { label broken(reason: "x") } }')
    assert result.data == {"boxes": [{"label": "x", "broken": None}, {"label": "y", "broken": None}]}
    assert [e.message for e in result.errors] == ["broken: x", "broken: x"]
    assert [e.path for e in result.errors] == [["boxes", 0, "broken"], ["boxes", 1, "broken"]]
    result = await direct.execute('{ box { items(afterLabel: "b-1", first: 2) echo(text: "z") } }', context_value={})
    assert result.data == {"box": {"items": ["b-2", "b-3"], "echo": "zz"}}


def test_the_product_connection_fields_take_the_direct_call():
    fields = plain_fields(product_schema)
    for name in ("Session.messages", "Session.turns", "Session.checkpoints", "Session.forks", "Session.parent",
                 "MessageConnection.totalCount", "Query.session", "Query.node"):  # fmt: skip
        assert name in fields
