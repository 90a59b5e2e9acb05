"""A shorter path for the most common field: a scalar or enum read straight off an object.

Most of a large page's fields are leaves such as `Message.sequence` or `TextBlock.text`.
graphql-core resolves each one through its general machinery (a `GraphQLResolveInfo` built
per field, two awaitable checks, Strawberry's resolver wrappers, the completion dispatch),
which costs several times the read and the scalar's serializer that decide the value.
`install_leaf_fields` marks the fields where nothing else can happen: Strawberry fields without
field extensions (so without permission classes) that are an attribute, or a plain method (sync,
no arguments, no `info`, such as `Edge.cursor`), and whose type is a scalar or an enum.
`LeafFastPath.execute_fields` reads those in one loop per object, with the type's
`coerce_output_value`, and hands every other case (a null in a non-null field, an error, a
value the scalar refuses, schema middleware) to graphql-core unchanged, so results and errors
are exactly what graphql-core gives.

Abstract types get the same treatment: a union or interface of Strawberry types resolves the
runtime type by the value's class (a dict lookup) instead of Strawberry's general resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Undefined

#: Attribute set on a `GraphQLField` that may take the short path: (read, coerce, non-null).
LEAF = "_graphql_api_leaf"


def install_leaf_fields(schema: GraphQLSchema) -> int:
    """Mark the scalar/enum fields of `schema`'s object types that are a plain read: basic
    fields (an attribute) and fields whose resolver is a plain method (sync, no arguments, no
    `info`: `Edge.cursor`, say); returns how many.

    Such fields, leaf or not, also get a graphql-core resolver that is that one read or call,
    in place of Strawberry's wrappers that come to the same thing."""
    marked = 0
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for field in type_.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            if definition is None or definition.extensions:
                continue
            read = _plain_read(definition, field.resolve)
            if read is None:
                continue
            field.resolve = _resolver(read, default=definition.base_resolver is None)
            leaf = get_nullable_type(field.type)
            if not is_leaf_type(leaf):
                continue
            setattr(field, LEAF, (read, leaf.coerce_output_value, is_non_null_type(field.type)))
            marked += 1
    return marked


def _plain_read(definition: Any, resolve: Any) -> Callable[[Any], Any] | None:
    """`read(source)` giving the field's value when that is all Strawberry would do; else None."""
    resolver = definition.base_resolver
    if resolver is None:
        if getattr(resolve, "_is_default", False) and definition.default_resolver is getattr:
            return attrgetter(definition.python_name)
        return None
    if resolver.is_async or resolver.arguments:
        return None
    reserved = [parameter for parameter in resolver.reserved_parameters.values() if parameter is not None]
    if [parameter.name for parameter in reserved] != ["self"]:
        return None  # takes info, root or a parent: not a plain method
    return resolver.wrapped_func


def _resolver(read: Callable[[Any], Any], *, default: bool) -> Callable[..., Any]:
    def resolve(source: Any, info: Any) -> Any:
        return read(source)

    resolve._is_default = default  # type: ignore[attr-defined] # as Strawberry marks its own
    return resolve


def install_type_resolvers(schema: GraphQLSchema) -> int:
    """Resolve unions and interfaces by the value's class where a class maps to exactly one
    object type; anything else goes to the resolver Strawberry installed."""
    names: dict[type, set[str]] = {}
    for type_ in schema.type_map.values():
        definition = (type_.extensions or {}).get("strawberry-definition")
        origin = getattr(definition, "origin", None)
        if isinstance(type_, GraphQLObjectType) and isinstance(origin, type):
            names.setdefault(origin, set()).add(type_.name)
    classes = {cls: next(iter(found)) for cls, found in names.items() if len(found) == 1}
    installed = 0
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLUnionType):
            members = {member.name for member in type_.types}
        elif isinstance(type_, GraphQLInterfaceType):
            members = {impl.name for impl in schema.get_implementations(type_).objects}
        else:
            continue
        if type_.resolve_type is None:
            continue
        by_class = {cls: name for cls, name in classes.items() if name in members}
        if by_class:
            type_.resolve_type = _by_class(by_class, type_.resolve_type)
            installed += 1
    return installed


def _by_class(by_class: dict[type, str], fallback: Callable[..., Any]) -> Callable[..., Any]:
    def resolve_type(value: Any, info: Any, abstract_type: Any) -> Any:
        name = by_class.get(type(value))
        return name if name is not None else fallback(value, info, abstract_type)

    return resolve_type


def _has_middleware(manager: Any) -> bool:
    # Strawberry passes a manager on every request; it only wraps resolvers when a schema
    # extension implements `resolve`.
    return manager is not None and bool(manager.middlewares)


_MISS = object()


class _Plan:
    """How to execute one selection set of one object type: its leaf fields in response order
    (None for other fields) and the selection set without the leaves."""

    __slots__ = ("grouped", "leaves", "rest")

    def __init__(self, grouped: dict[str, Any], leaves: list[tuple[str, Any]], rest: dict[str, Any]):
        self.grouped = grouped  # keeps the key of the plan cache alive and unique
        self.leaves = leaves
        self.rest = rest


class LeafFastPath:
    """Executor mixin: an object's marked leaf fields are read in one loop; the rest of its
    selection set goes to graphql-core. Any leaf that needs more than a read and a coercion
    sends the whole object through graphql-core instead."""

    middleware_manager: Any

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: dict[str, Any],
        position_context: Any,
    ) -> Any:
        plan = self._plan(parent_type, grouped_field_set)
        if plan is None:
            return super().execute_fields(  # type: ignore[misc]
                parent_type, source_value, path, grouped_field_set, position_context
            )
        values: dict[str, Any] = {}
        for response_name, leaf in plan.leaves:
            if leaf is None:
                continue
            value = _read_leaf(source_value, leaf)
            if value is _MISS:  # a null in a non-null field, an error ...: graphql-core reports it
                return super().execute_fields(  # type: ignore[misc]
                    parent_type, source_value, path, grouped_field_set, position_context
                )
            values[response_name] = value
        if not plan.rest:
            return values
        rest = super().execute_fields(  # type: ignore[misc]
            parent_type, source_value, path, plan.rest, position_context
        )
        if isinstance(rest, dict):
            return _in_order(plan, values, rest)

        async def merged() -> dict[str, Any]:
            return _in_order(plan, values, await rest)

        return merged()

    def _plan(self, parent_type: GraphQLObjectType, grouped: dict[str, Any]) -> _Plan | None:
        # graphql-core reuses one grouped field set for every object of a list, so plans are
        # cached per executor (per request or event) by its identity.
        plans: dict[int, _Plan | None] | None = self.__dict__.get("_leaf_plans")
        if plans is None:
            if _has_middleware(self.middleware_manager):
                return None
            plans = self.__dict__["_leaf_plans"] = {}
        key = id(grouped)
        if key in plans:
            plan = plans[key]
            if plan is None or plan.grouped is grouped:
                return plan
        plan = _make_plan(parent_type, grouped)
        plans[key] = plan
        return plan


def _make_plan(parent_type: GraphQLObjectType, grouped: dict[str, Any]) -> _Plan | None:
    fields = parent_type.fields
    leaves: list[tuple[str, Any]] = []
    rest: dict[str, Any] = {}
    for response_name, field_details_list in grouped.items():
        node = field_details_list[0].node
        field = fields.get(node.name.value)
        leaf = getattr(field, LEAF, None) if field is not None and not node.directives else None
        leaves.append((response_name, leaf))
        if leaf is None:
            rest[response_name] = field_details_list
    if len(rest) == len(grouped):
        return None
    return _Plan(grouped, leaves, rest)


def _read_leaf(source: Any, leaf: tuple[Callable[[Any], Any], Any, bool]) -> Any:
    read, coerce, non_null = leaf
    try:
        value = read(source)
        if value is None:
            return _MISS if non_null else None
        if isinstance(value, Exception):
            return _MISS
        coerced = coerce(value)
    except Exception:  # noqa: BLE001 - graphql-core reports it, as usual
        return _MISS
    return _MISS if coerced is None or coerced is Undefined else coerced


def _in_order(plan: _Plan, values: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    return {
        name: values[name] if leaf is not None else rest[name]
        for name, leaf in plan.leaves
        if leaf is not None or name in rest
    }
