"""How deep a document nests and how many aliases it uses: a graphql-core validation rule.

Both numbers count what execution would see, so fragments count once per spread. Each
fragment is measured once and reused (linear time, even for documents that spread one
fragment many times over), and a fragment cycle counts as nothing here: graphql-core's own
NoFragmentCyclesRule reports it in the same validation pass.

The rule depends only on the document and the two limits, so its results are safe in the
validation cache (api/validation_cache.py): `shape_rule` returns one class per pair of limits,
and that class is part of the cache key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.language.visitor import SKIP

from graphql_api.domain.errors import ErrorCode


@dataclass(frozen=True)
class Shape:
    depth: int = 0
    aliases: int = 0


_EMPTY = Shape()


class _ShapeOf:
    """Measures selection sets of one document, each named fragment once."""

    def __init__(self, context: ValidationContext) -> None:
        self.context = context
        self.fragments: dict[str, Shape] = {}

    def selections(self, selection_set: SelectionSetNode | None) -> Shape:
        if selection_set is None:
            return _EMPTY
        depth = aliases = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.selections(selection.selection_set)
                depth = max(depth, 1 + inner.depth)
                aliases += inner.aliases + (selection.alias is not None)
            else:
                inner = (
                    self.fragment(selection.name.value)
                    if isinstance(selection, FragmentSpreadNode)
                    else self.selections(selection.selection_set)
                    if isinstance(selection, InlineFragmentNode)
                    else _EMPTY
                )
                depth = max(depth, inner.depth)
                aliases += inner.aliases
        return Shape(depth, aliases)

    def fragment(self, name: str) -> Shape:
        known = self.fragments.get(name)
        if known is not None:
            return known
        self.fragments[name] = _EMPTY  # a cycle stops here
        definition = self.context.get_fragment(name)
        shape = self.selections(definition.selection_set) if definition is not None else _EMPTY
        self.fragments[name] = shape
        return shape


def too_complex(kind: str, limit: int, actual: int | None, message: str) -> GraphQLError:
    """The refusal every query limit answers with (kind: bytes, tokens, depth, aliases, cost)."""
    extensions: dict[str, Any] = {
        "code": ErrorCode.QUERY_TOO_COMPLEX.value,
        "kind": kind,
        "limit": limit,
    }
    if actual is not None:
        extensions["actual"] = actual
    return GraphQLError(message, extensions=extensions)


@cache
def shape_rule(max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """The rule for these limits; the same class every time, so validation stays cacheable."""

    class QueryShapeRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.shape_of = _ShapeOf(context)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            shape = self.shape_of.selections(node.selection_set)
            name = f"'{node.name.value}'" if node.name else "the operation"
            if shape.depth > max_depth:
                self.report_error(
                    too_complex(
                        "depth", max_depth, shape.depth,
                        f"{name} nests {shape.depth} fields deep; at most {max_depth} are allowed",
                    )
                )  # fmt: skip
            if shape.aliases > max_aliases:
                self.report_error(
                    too_complex(
                        "aliases", max_aliases, shape.aliases,
                        f"{name} uses {shape.aliases} aliases; at most {max_aliases} are allowed",
                    )
                )  # fmt: skip
            return SKIP  # measured already; nothing below needs this rule's visit

    return QueryShapeRule


_TOKENS_REFUSED = re.compile(r"Document contains more than (\d+) tokens")


def token_limit_extensions(message: str) -> dict[str, Any]:
    """graphql-core's parser reports MAX_QUERY_TOKENS as a syntax error; this is its code."""
    match = _TOKENS_REFUSED.search(message)
    if match is None:
        return {}
    return {"code": ErrorCode.QUERY_TOO_COMPLEX.value, "kind": "tokens", "limit": int(match[1])}
