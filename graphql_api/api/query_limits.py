"""Query limits (DESIGN.md, decision 10): size, tokens, depth, aliases and cost.

Every limit refuses the whole operation before any resolver runs, with `extensions`
`{"code": "QUERY_TOO_COMPLEX", "kind", "limit", "actual"}`. The limits come from the calling
request's settings, in the order the work happens:

1. bytes: `SizeLimitedSchema` refuses a document over MAX_QUERY_BYTES before it is parsed.
2. tokens: graphql-core's parser stops at MAX_QUERY_TOKENS (a syntax error; api/errors.py
   gives it its code). Over graphql-transport-ws that closes the socket with 4400, as any
   document that does not parse does.
3. depth and aliases: a validation rule (api/query_shape.py), cached with the document.
4. cost: computed when execution starts, because `first:` may be a variable
   (api/query_cost.py).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from typing import Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from graphql_api.api.operation_observer import record_refused_document
from graphql_api.api.query_cost import operation_cost
from graphql_api.api.query_shape import shape_rule, too_complex


def refuse(execution_context: Any, error: GraphQLError) -> None:
    """Answer the operation with `error` instead of running it (when its execution starts).

    Queries and mutations take a ready result, which Strawberry then reports like any other;
    a subscription has no such slot, so there the error is raised, and Strawberry reports
    errors raised in on_execute as the subscription's first (and only) result."""
    if execution_context.operation_type is OperationType.SUBSCRIPTION:
        raise error
    execution_context.result = GraphQLExecutionResult(data=None, errors=[error])


def document_too_large(query: Any, max_bytes: int) -> GraphQLError | None:
    if not isinstance(query, str) or len(query) * 4 <= max_bytes:  # UTF-8: at most 4 bytes a char
        return None
    size = len(query.encode("utf-8", "surrogatepass"))
    if size <= max_bytes:
        return None
    return too_complex(
        "bytes", max_bytes, size,
        f"the document is {size} bytes; at most {max_bytes} are allowed "
        "(send large values such as prompts and images as variables)",
    )  # fmt: skip


def _settings_of(context: Any) -> Any:
    return getattr(context, "settings", None)


class SizeLimitedSchema(strawberry.Schema):
    """Refuses an oversized document before Strawberry parses it, on every transport: the
    parser is pure Python, so a large document costs CPU before any other limit can look at
    it. (Extension hooks cannot refuse this early: an error raised there escapes a websocket
    operation without an error message.)"""

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        context = kwargs.get("context_value", args[1] if len(args) > 1 else None)
        error = self._oversized(query, context, kwargs.get("operation_name"))
        if error is not None:
            return PreExecutionError(data=None, errors=[error])
        return await super().execute(query, *args, **kwargs)

    async def stream(self, query: str | None = None, *args: Any, **kwargs: Any) -> Any:
        context = kwargs.get("context_value", args[1] if len(args) > 1 else None)
        error = self._oversized(query, context, kwargs.get("operation_name"))
        if error is not None:
            return _single(PreExecutionError(data=None, errors=[error]))
        return await super().stream(query, *args, **kwargs)

    def _oversized(self, query: Any, context: Any, operation_name: Any) -> GraphQLError | None:
        settings = _settings_of(context)
        if settings is None:
            return None
        error = document_too_large(query, settings.max_query_bytes)
        if error is not None:
            record_refused_document(context, operation_name, error)
        return error


async def _single(result: ExecutionResult) -> AsyncGenerator[ExecutionResult, None]:
    yield result


def apply_limits(execution_context: ExecutionContext) -> None:
    """Before parsing: the token cap for the parser, and the depth, alias and introspection
    rules for validation. Nothing without settings."""
    settings = _settings_of(execution_context.context)
    if settings is not None:
        execution_context.parse_options["max_tokens"] = settings.max_query_tokens
        rules: tuple[Any, ...] = (shape_rule(settings.max_query_depth, settings.max_aliases),)
        if not settings.allow_introspection:
            # The rule Strawberry's DisableIntrospection adds, switched per settings here.
            rules += (NoSchemaIntrospectionCustomRule,)
        execution_context.validation_rules = execution_context.validation_rules + rules


def refuse_costly(execution_context: ExecutionContext) -> None:
    """When execution starts: refuse an operation that costs more than allowed (`refuse`)."""
    settings = _settings_of(execution_context.context)
    document = execution_context.graphql_document  # execution starts on parsed documents only
    if settings is not None and document is not None and execution_context.result is None:
        cost = operation_cost(
            execution_context.schema._schema,
            document,
            execution_context.operation_name,
            execution_context.variables,
            default_page_size=settings.default_page_size,
            max_page_size=settings.max_page_size,
        )
        limit = settings.max_query_cost
        if cost > limit:
            refuse(
                execution_context,
                too_complex(
                    "cost", limit, cost,
                    f"the operation may resolve up to {cost} fields; at most {limit} are "
                    "allowed (ask for smaller pages: cost multiplies by first/last)",
                ),
            )  # fmt: skip


class QueryLimits(SchemaExtension):
    """Tokens, depth, aliases, introspection and cost, from the request's settings."""

    def on_operation(self) -> Iterator[None]:
        apply_limits(self.execution_context)
        yield

    def on_execute(self) -> Iterator[None]:
        refuse_costly(self.execution_context)
        yield
