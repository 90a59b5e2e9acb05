"""Resolvers that call a Strawberry field's function directly when its arguments need no
conversion.

Strawberry resolves a field with a function of its own through several layers: it builds an
`Info`, converts every argument with `convert_argument` (a chain of type checks, an import and
a name conversion per argument, on every call), reduces the field extensions into a chain,
binds `self`, `info` and the arguments, and for an async function awaits the result in one
more coroutine. On a page of 50 sessions the connection fields (`messages(first:)`,
`turns(first:)` and the like) are called 250 times, and that machinery cost about a tenth of
the request's CPU (BENCHMARKS.md, round 4).

For most fields all of it comes to one call. `install_plain_resolvers` gives graphql-core a
resolver that is that call where nothing else can happen:

- no field extensions (so no permission classes) and no exception handlers in the schema;
- the function takes `self` and/or `info` and GraphQL arguments, nothing else (no `root` or
  `parent` parameter);
- every argument is a scalar other than `GlobalID`, or an optional one (not a `Maybe`), so Strawberry's
  conversion gives back the value graphql-core coerced, unchanged (enums, input types and
  lists are converted by Strawberry and left to it);
- the field is not a subscription (those are subscribed to, not resolved).

The function is called as Strawberry calls it: the source as `self`, Strawberry's own `Info`
class for `info`, the arguments graphql-core passes (given or defaulted) under their Python
names. An async function's coroutine is returned as it is; graphql-core awaits it, and an
error it raises is located and reported by graphql-core as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.base import StrawberryOptional

#: Attribute set on a `GraphQLField` given the direct call (api/fast_fields.py may then replace a
#: sync one without arguments by a plain read).
PLAIN = "_graphql_api_plain_resolver"


def install_plain_resolvers(schema: strawberry.Schema) -> int:
    """Give every eligible field of `schema` the direct call as its resolver; returns how many."""
    converter = schema.schema_converter
    if getattr(converter, "_exception_handler_specs", None):
        return 0  # handlers turn exceptions into results inside Strawberry's resolver
    graphql_schema = schema._schema
    subscription = graphql_schema.subscription_type
    info_class = schema.config.info_class
    installed = 0
    for type_ in graphql_schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__") or type_ is subscription:
            continue
        for field in type_.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            if definition is None or definition.extensions or definition.base_resolver is None:
                continue
            names = _argument_names(schema, definition)
            if names is None:
                continue
            resolver = definition.base_resolver
            if resolver.root_parameter is not None or resolver.parent_parameter is not None:
                continue
            info = resolver.info_parameter
            field.resolve = _direct_call(
                resolver.wrapped_func,
                names,
                takes_self=resolver.self_parameter is not None,
                info_name=info.name if info is not None else None,
                make_info=lambda raw, definition=definition: info_class(_raw_info=raw, _field=definition),
            )
            setattr(field, PLAIN, True)
            installed += 1
    return installed


def _argument_names(schema: strawberry.Schema, definition: Any) -> dict[str, str] | None:
    """{GraphQL name: Python name} of the field's arguments, or None if one needs converting."""
    registry = schema.schema_converter.scalar_registry
    names: dict[str, str] = {}
    for argument in definition.arguments:
        type_ = argument.type
        if type(type_) is StrawberryOptional:  # not a Maybe, which Strawberry wraps in Some()
            type_ = type_.of_type
        if type_ is GlobalID or not is_scalar(type_, registry):
            return None
        names[schema.config.name_converter.from_argument(argument)] = argument.python_name
    return names


def _direct_call(
    function: Callable[..., Any],
    names: dict[str, str],
    *,
    takes_self: bool,
    info_name: str | None,
    make_info: Callable[[Any], Any],
) -> Callable[..., Any]:
    renamed = any(graphql != python for graphql, python in names.items())

    def resolve(source: Any, info: Any, **arguments: Any) -> Any:
        if renamed:
            arguments = {names[name]: value for name, value in arguments.items()}
        if info_name is not None:
            arguments[info_name] = make_info(info)
        return function(source, **arguments) if takes_self else function(**arguments)

    return resolve
