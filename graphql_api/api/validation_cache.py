"""Validation results cached per document and set of rules.

What Strawberry's ValidationCache does, with two differences: the document is looked up by
identity (api/document_memo.py), not by a hash that walks the whole tree on every request;
and the step is a plain function, run by the extension for subscriptions and by
api/operation_pipeline.py for queries and mutations, so both share one cache.

The rules are part of the key: they differ per request settings (the depth and alias caps of
api/query_shape.py, introspection on or off; api/query_limits.py adds them).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from graphql_api.api.document_memo import MISSING, DocumentMemo

_validated: DocumentMemo[list[GraphQLError]] = DocumentMemo(maxsize=512)


def validate_with_cache(execution_context: ExecutionContext) -> None:
    """Set the operation's validation errors (an empty list when it is valid) from the cache,
    validating on a miss with the operation's rules plus the ones Strawberry always adds."""
    document = execution_context.graphql_document
    assert document is not None  # validation runs on parsed documents only
    schema = execution_context.schema._schema  # noqa: SLF001 - the graphql-core schema
    rules = execution_context.validation_rules
    detail = (schema, rules)
    errors = _validated.get(document, detail)
    if errors is MISSING:
        errors = validate_document(schema, document, rules)
        _validated.put(document, detail, errors)
    execution_context.pre_execution_errors = errors


class CachedValidation(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        validate_with_cache(self.execution_context)
        yield
