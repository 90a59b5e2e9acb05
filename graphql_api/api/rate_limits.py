"""Which rate-limit budgets an operation spends, checked once when its execution starts.

One hook per operation (not per field): a mutation spends TURNS for each root field that
starts a turn (`sendMessage`, `createSession` with a prompt) and MUTATIONS for each other
root field; a query or a subscription start spends one READ. The budgets belong to the
caller's API key, or to the caller's address when no key came with the request.
Refused operations answer RATE_LIMITED with `retryAfter` seconds (and, over HTTP, a
`Retry-After` header); nothing of them runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    NullValueNode,
    ObjectValueNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from graphql_api.api.operation_observer import http_response_headers
from graphql_api.api.query_limits import refuse
from graphql_api.domain.errors import RateLimited
from graphql_api.domain.rate_limits import Budget

TURN_STARTING_MUTATIONS = frozenset({"sendMessage", "createSession"})


def budget_costs(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> dict[Budget, int]:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return {}
    if operation.operation is not OperationType.MUTATION:
        return {Budget.READS: 1}
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    costs = {Budget.TURNS: 0, Budget.MUTATIONS: 0}
    for field in _root_fields(operation.selection_set, fragments, set()):
        costs[Budget.TURNS if starts_turn(field, variables or {}) else Budget.MUTATIONS] += 1
    return costs


def starts_turn(field: FieldNode, variables: dict[str, Any]) -> bool:
    name = field.name.value
    if name not in TURN_STARTING_MUTATIONS:
        return False
    if name == "sendMessage":
        return True
    # createSession starts a turn only when its input carries a prompt.
    argument = next((a.value for a in field.arguments or () if a.name.value == "input"), None)
    if isinstance(argument, VariableNode):
        value = variables.get(argument.name.value)
        return isinstance(value, dict) and value.get("prompt") is not None
    if isinstance(argument, ObjectValueNode):
        for item in argument.fields:
            if item.name.value == "prompt":
                if isinstance(item.value, VariableNode):
                    return variables.get(item.value.name.value) is not None
                return not isinstance(item.value, NullValueNode)
    return False


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                seen.add(name)
                yield from _root_fields(fragments[name].selection_set, fragments, seen)


def caller_identity(context: Any) -> str:
    principal = getattr(context, "principal_or_none", None)
    if principal is not None:
        return f"key:{principal.key_id}"
    client = getattr(getattr(context, "request", None), "client", None)
    return f"address:{client.host if client else 'unknown'}"


async def spend_budgets(execution_context: ExecutionContext) -> None:
    """When execution starts, after the cost check: spend the operation's budgets, or refuse
    it (`refuse`) when one is spent."""
    context = execution_context.context
    limiter = getattr(getattr(context, "services", None), "rate_limiter", None)
    document = execution_context.graphql_document
    if limiter is not None and document is not None and execution_context.result is None:
        costs = budget_costs(
            document,
            execution_context.operation_name,
            execution_context.variables,
        )
        identity = caller_identity(context)
        try:
            for budget, cost in costs.items():
                await limiter.spend(budget, identity, cost)
        except RateLimited as error:
            headers = http_response_headers(context)
            if headers is not None and "retryAfter" in error.extensions:
                headers["Retry-After"] = str(error.extensions["retryAfter"])
            refuse(execution_context, GraphQLError(error.message, original_error=error))


class RateLimits(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        await spend_budgets(self.execution_context)
        yield
