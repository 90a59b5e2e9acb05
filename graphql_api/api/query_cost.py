"""What an operation may cost to run: the most fields it can resolve, given its variables.

    cost(selections) = sum over fields of  1 + size(field) * cost(field's selections)

`size` is how many times a field's selections can run:
- a connection (a field with `first`/`last`): the `first` or `last` given, literal or
  variable, else the default page size; capped at the maximum page size, because the field
  itself refuses anything larger (BAD_USER_INPUT) before loading a row;
- a list field with a list argument (`nodes(ids:)`): that list's length;
- any other field, lists included: 1.

Every inline fragment counts (as if each type condition matched), so the figure is an upper
bound. Each named fragment is costed once per operation and reused, so the walk is linear in
the document. The cost depends on variable values, so it is computed when execution starts,
not in the (cached) validation step. Most operations' costs read no variable at all (no
`first: $n`); those are remembered with their document (api/document_memo.py), so a query
sent again is not walked again.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.pyutils import Undefined

from graphql_api.api.document_memo import MISSING, DocumentMemo

_PAGE_ARGUMENTS = ("first", "last")

#: Costs that read no variable, by document and (schema, operation name, page sizes).
_costs_without_variables: DocumentMemo[int] = DocumentMemo(maxsize=512)


def _mentions_variable(node: ValueNode) -> bool:
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(_mentions_variable(value) for value in node.values)
    if isinstance(node, ObjectValueNode):
        return any(_mentions_variable(field.value) for field in node.fields)
    return False


class _CostOf:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        default_page_size: int,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.fragment_costs: dict[str, int] = {}
        #: Whether any argument the walk read mentions a variable: if none did, the cost is
        #: the same whatever the variables are.
        self.reads_variables = False

    def selections(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner or parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def field(self, node: FieldNode, parent: Any) -> int:
        definition = self._definition(node.name.value, parent)
        if definition is None or node.selection_set is None:
            return 1
        inner = self.selections(node.selection_set, get_named_type(definition.type))
        return 1 + self._size(node, definition) * inner

    def fragment(self, name: str) -> int:
        known = self.fragment_costs.get(name)
        if known is not None:
            return known
        self.fragment_costs[name] = 0  # validation already refused cycles; never loop
        definition = self.fragments.get(name)
        cost = 0
        if definition is not None:
            parent = self.schema.get_type(definition.type_condition.name.value)
            cost = self.selections(definition.selection_set, parent)
        self.fragment_costs[name] = cost
        return cost

    def _definition(self, name: str, parent: Any) -> Any:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
        fields = getattr(parent, "fields", None)
        return fields.get(name) if fields else None

    def _size(self, node: FieldNode, definition: Any) -> int:
        arguments = {argument.name.value: argument.value for argument in node.arguments or ()}
        if any(name in definition.args for name in _PAGE_ARGUMENTS):
            for name in _PAGE_ARGUMENTS:
                if name in arguments:
                    value = self._value(arguments[name], GraphQLInt)
                    if isinstance(value, int):
                        return min(max(value, 0), self.max_page_size)
            return self.default_page_size
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            for name, argument in definition.args.items():
                if name in arguments and isinstance(get_nullable_type(argument.type), GraphQLList):
                    value = self._value(arguments[name], argument.type)
                    if value is not Undefined and isinstance(value, list):
                        return len(value)
        return 1

    def _value(self, node: ValueNode, type_: Any) -> Any:
        self.reads_variables = self.reads_variables or _mentions_variable(node)
        return value_from_ast(node, type_, self.variables)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    *,
    default_page_size: int,
    max_page_size: int,
) -> int:
    """The cost of the operation that would run (0 when there is none to run)."""
    detail = (schema, operation_name, default_page_size, max_page_size)
    # Variables that are not an object are left to the walk below, which fails on them.
    if variables is None or isinstance(variables, dict):
        known = _costs_without_variables.get(document, detail)
        if known is not MISSING:
            return known
    cost, reads_variables = _walk(
        schema, document, operation_name, variables, default_page_size, max_page_size
    )
    if not reads_variables:
        _costs_without_variables.put(document, detail, cost)
    return cost


def _walk(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    default_page_size: int,
    max_page_size: int,
) -> tuple[int, bool]:
    """The cost, and whether it read any variable."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0, False
    root: GraphQLNamedType | None = schema.get_root_type(operation.operation)
    values: dict[str, Any] = {}
    if operation.variable_definitions:
        coerced = get_variable_values(schema, operation.variable_definitions, variables or {})
        # Variables that do not coerce fail execution anyway; cost the operation with defaults.
        if not isinstance(coerced, list):
            values = dict(coerced.coerced)
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    walk = _CostOf(schema, fragments, values, default_page_size, max_page_size)
    return walk.selections(operation.selection_set, root), walk.reads_variables
