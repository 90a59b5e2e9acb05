"""Parsed documents cached by query text, with syntax errors reported the way the protocols
require.

Strawberry's ParserCache parses inside an extension hook, outside the `try` that turns a
syntax error into a GraphQL error. Over HTTP that still ends as a 400, but over websockets the
exception escapes the operation: it silently completes instead of graphql-transport-ws closing
with 4400 (or graphql-ws answering with an error). A document that does not parse is left to
Strawberry's own parse, which reports it properly; valid documents stay cached.

`parse_with_cache` is the step itself: the extension runs it for subscriptions, and
api/operation_pipeline.py runs it for queries and mutations. Both share one cache, so the same
query text gives the same document object, which the per-document memos rely on
(api/document_memo.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

#: Query texts whose documents are kept (per parse options, i.e. per token cap).
DOCUMENTS_CACHED = 512

_cached_parse = lru_cache(maxsize=DOCUMENTS_CACHED)(parse)


def parse_with_cache(execution_context: ExecutionContext) -> GraphQLError | None:
    """Set the operation's document from the cache (parsing it on a miss), or to None when
    it does not parse: then the syntax error is returned (parsing again would give the same
    one), and Strawberry's own parse, where it runs, reports it."""
    try:
        execution_context.graphql_document = _cached_parse(
            execution_context.query, **execution_context.parse_options
        )
    except GraphQLError as error:
        execution_context.graphql_document = None
        return error
    return None


class ReportingParserCache(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        parse_with_cache(self.execution_context)
        yield
