"""A shorter path for the most common fields: a scalar, an enum or an object read straight off
its parent.

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

Plain object fields (an attribute or plain method whose type is an object, a union or an
interface, or a list of one: `edges`, `node`, `pageInfo`, `Message.content`) take the same loop:
the value is read, its object type found by class, and its sub-selection executed without
graphql-core's `execute_field` and completion dispatch; `__typename` is the parent type's name.
Whatever graphql-core must decide (a null where a non-null is declared, an item of an unknown
class, a value that is not a list, a read that raises, `@defer`) is checked before any
sub-selection runs and left to graphql-core, so no resolver runs twice and errors and null
propagation are graphql-core's (tests/api/test_fast_fields.py compares both paths).

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
    is_list_type,
    is_non_null_type,
)
from graphql.pyutils import Path, Undefined, gather_with_cancel

#: Attribute set on a `GraphQLField` that may take the short path: (read, coerce, non-null).
LEAF = "_graphql_api_leaf"
#: Attribute set on a `GraphQLField` of an object type read straight off its parent.
OBJECT = "_graphql_api_object"
#: Attribute set on a union or interface: {Python class: its object type}.
BY_CLASS = "_graphql_api_by_class"


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
                object_field = _ObjectField.of(schema, read, field.type)
                if object_field is not None:
                    setattr(field, OBJECT, object_field)
                    marked += 1
                continue
            setattr(field, LEAF, (read, leaf.coerce_output_value, is_non_null_type(field.type)))
            marked += 1
    return marked


class _ObjectField:
    """What executing a plain-read field of an object type (or a list of them) needs: the
    read, its GraphQL type's shape, and how an item finds its object type (by class, for a
    union or interface)."""

    __slots__ = ("is_list", "item_non_null", "item_type", "non_null", "read", "return_type", "runtime_type")

    def __init__(self, read: Callable[[Any], Any], return_type: Any, runtime_type: Callable[[Any], Any]):
        self.read = read
        self.return_type = return_type
        self.non_null = is_non_null_type(return_type)
        nullable = get_nullable_type(return_type)
        self.is_list = is_list_type(nullable)
        self.item_type = nullable.of_type if self.is_list else nullable
        self.item_non_null = is_non_null_type(self.item_type)
        self.runtime_type = runtime_type

    @classmethod
    def of(cls, schema: GraphQLSchema, read: Callable[[Any], Any], return_type: Any) -> _ObjectField | None:
        """The marker for a field of this type, or None when graphql-core must execute it:
        lists of lists, and types whose objects could need more than a class check."""
        nullable = get_nullable_type(return_type)
        named = get_nullable_type(nullable.of_type) if is_list_type(nullable) else nullable
        if isinstance(named, GraphQLObjectType):
            possible = [named]
        elif isinstance(named, (GraphQLUnionType, GraphQLInterfaceType)):
            possible = list(schema.get_possible_types(named))
        else:
            return None  # a list of lists
        if not all(_class_check_only(t.is_type_of) for t in possible):
            return None
        if isinstance(named, GraphQLObjectType):
            return cls(read, return_type, _object_type_of(named))
        return cls(read, return_type, _runtime_type_of(named))


def _class_check_only(is_type_of: Any) -> bool:
    """No `is_type_of`, or the one Strawberry generates (a class check that ignores `info`)."""
    return is_type_of is None or getattr(is_type_of, "__qualname__", "").endswith(
        "_get_is_type_of.<locals>.is_type_of"
    )


def _object_type_of(object_type: GraphQLObjectType) -> Callable[[Any], Any]:
    is_type_of = object_type.is_type_of
    if is_type_of is None:
        return lambda value: object_type
    # Strawberry's check ignores `info`; a value it refuses goes to graphql-core, which says so.
    return lambda value: object_type if is_type_of(value, None) else None


def _runtime_type_of(abstract_type: Any) -> Callable[[Any], Any]:
    """An item's object type by its class (set up by `install_type_resolvers`), else None."""

    def runtime_type(value: Any) -> Any:
        object_type = getattr(abstract_type, BY_CLASS, {}).get(type(value))
        if object_type is None:
            return None
        is_type_of = object_type.is_type_of
        return object_type if is_type_of is None or is_type_of(value, None) else None

    return runtime_type


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
            setattr(type_, BY_CLASS, {cls: schema.type_map[name] for cls, name in by_class.items()})
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
#: `Path(prev, key, typename)` without the named tuple's Python-level `__new__` (half the cost;
#: a page builds thousands).
_path = tuple.__new__
#: How a field of a plan is executed: by graphql-core, as a leaf read, as an object read, or
#: as `__typename` (the parent type's name, which is all graphql-core's resolver gives).
_GENERAL, _LEAF, _OBJECT, _TYPENAME = 0, 1, 2, 3


class _Plan:
    """How to execute one selection set of one object type: every field in response order,
    with its kind and what that kind needs (the leaf's or the object field's marker)."""

    __slots__ = ("entries", "grouped")

    def __init__(self, grouped: dict[str, Any], entries: list[tuple[str, Any, int, Any]]):
        self.grouped = grouped  # keeps the key of the plan cache alive and unique
        self.entries = entries


class LeafFastPath:
    """Executor mixin: an object's marked fields are executed in one loop, leaves as a read and
    a coercion, plain object fields as a read and their sub-selection; every other field, and
    any marked field that needs more (a null in a non-null field, an error, a value of an
    unexpected type), goes to graphql-core's own `execute_field`, which gives its usual answer
    and error."""

    middleware_manager: Any
    is_awaitable: Callable[[Any], bool]

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
        # graphql-core's execute_fields, with the marked fields on their short paths.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, kind, marker in plan.entries:
                if kind == _LEAF:
                    value = _read_leaf(source_value, marker)
                    if value is not _MISS:
                        results[response_name] = value
                        continue
                elif kind == _TYPENAME:
                    results[response_name] = parent_type.name
                    continue
                elif kind == _OBJECT and position_context is None:
                    value = self._object_field(
                        parent_type, source_value, field_details_list, path, response_name, marker
                    )
                    if value is not _MISS:
                        results[response_name] = value
                        if value is not None and is_awaitable(value):
                            awaitable_fields.append(response_name)
                        continue
                result = self.execute_field(  # type: ignore[attr-defined]
                    parent_type,
                    source_value,
                    field_details_list,
                    _path(Path, (path, response_name, parent_type.name)),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:  # settled, as graphql-core does, so their errors are seen
                self.settle_in_background([results[f] for f in awaitable_fields])  # type: ignore[attr-defined]
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                name = awaitable_fields[0]
                results[name] = await results[name]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _object_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        response_name: str,
        marker: _ObjectField,
    ) -> Any:
        """The completed value of a plain object (or list of objects) field, or _MISS when
        graphql-core must do it. Everything that could send it to graphql-core is checked
        before any sub-selection runs, so no resolver ever runs twice."""
        try:
            value = marker.read(source)
        except Exception:  # noqa: BLE001 - graphql-core reads it again and reports the error
            return _MISS
        if value is None:
            return _MISS if marker.non_null else None
        field_path = _path(Path, (path, response_name, parent_type.name))
        if not marker.is_list:
            object_type = marker.runtime_type(value)
            grouped = object_type and self._subfields(object_type, field_details_list)
            if grouped is None:
                return _MISS
            try:
                completed = self.execute_fields(object_type, value, field_path, grouped, None)
            except Exception as error:  # noqa: BLE001 - located and reported as graphql-core does
                self.handle_field_error(error, marker.return_type, field_details_list, field_path)  # type: ignore[attr-defined]
                return None
            if completed is not None and self.is_awaitable(completed):
                return self._settle_field(completed, marker.return_type, field_details_list, field_path)
            return completed

        if type(value) is not list:
            return _MISS
        plans: list[tuple[Any, Any] | None] = []
        for item in value:
            if item is None:
                if marker.item_non_null:
                    return _MISS
                plans.append(None)
                continue
            object_type = marker.runtime_type(item)
            grouped = object_type and self._subfields(object_type, field_details_list)
            if grouped is None:
                return _MISS
            plans.append((object_type, grouped))
        completed_items: list[Any] = []
        awaitable_indices: list[int] = []
        is_awaitable = self.is_awaitable
        try:
            for index, (item, item_plan) in enumerate(zip(value, plans, strict=True)):
                if item_plan is None:
                    completed_items.append(None)
                    continue
                item_path = _path(Path, (field_path, index, None))
                try:
                    completed = self.execute_fields(item_plan[0], item, item_path, item_plan[1], None)
                except Exception as error:  # noqa: BLE001 - raises again for a non-null item
                    self.handle_field_error(error, marker.item_type, field_details_list, item_path)  # type: ignore[attr-defined]
                    completed_items.append(None)
                    continue
                if completed is not None and is_awaitable(completed):
                    completed = self._settle_field(completed, marker.item_type, field_details_list, item_path)
                    awaitable_indices.append(index)
                completed_items.append(completed)
        except Exception as error:  # noqa: BLE001 - a non-null item failed: the field fails
            if awaitable_indices:
                self.settle_in_background([completed_items[i] for i in awaitable_indices])  # type: ignore[attr-defined]
            self.handle_field_error(error, marker.return_type, field_details_list, field_path)  # type: ignore[attr-defined]
            return None
        if not awaitable_indices:
            return completed_items

        async def gathered() -> list[Any] | None:
            try:
                awaited = await gather_with_cancel(*(completed_items[i] for i in awaitable_indices))
            except Exception as error:  # noqa: BLE001
                self.handle_field_error(error, marker.return_type, field_details_list, field_path)  # type: ignore[attr-defined]
                return None
            for index, item in zip(awaitable_indices, awaited, strict=True):
                completed_items[index] = item
            return completed_items

        return gathered()

    def _settle_field(self, completed: Any, return_type: Any, field_details_list: Any, path: Any) -> Any:
        async def settle() -> Any:
            try:
                return await completed
            except Exception as error:  # noqa: BLE001
                self.handle_field_error(error, return_type, field_details_list, path)  # type: ignore[attr-defined]
                return None

        return settle()

    def _subfields(self, object_type: GraphQLObjectType, field_details_list: Any) -> dict[str, Any] | None:
        """The grouped sub-selection (graphql-core's memo), or None where @defer is involved."""
        grouped, new_defer_usages, _forbidden = self.collect_subfields(object_type, field_details_list)  # type: ignore[attr-defined]
        return None if new_defer_usages else grouped

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
    entries: list[tuple[str, Any, int, Any]] = []
    marked = 0
    for response_name, field_details_list in grouped.items():
        node = field_details_list[0].node
        field = fields.get(node.name.value)
        kind, marker = _GENERAL, None
        if node.directives or node.arguments:
            pass
        elif node.name.value == "__typename":
            kind = _TYPENAME
        elif field is not None:
            marker = getattr(field, LEAF, None)
            if marker is not None:
                kind = _LEAF
            else:
                marker = getattr(field, OBJECT, None)
                kind = _OBJECT if marker is not None else _GENERAL
        marked += kind != _GENERAL
        entries.append((response_name, field_details_list, kind, marker))
    return _Plan(grouped, entries) if marked else None


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
