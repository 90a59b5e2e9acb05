"""Strawberry's ParserCache, made to report syntax errors the way the protocols require.

Strawberry's ParserCache parses inside an extension hook, outside the `try` that turns a
syntax error into a GraphQL error. Over HTTP that still ends as a 400, but over websockets the
exception escapes the operation: it silently completes instead of graphql-transport-ws closing
with 4400 (or graphql-ws answering with an error). A document that does not parse is left to
Strawberry's own parse, which reports it properly; valid documents stay cached.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache


class ReportingParserCache(ParserCache):
    def on_parse(self) -> Iterator[None]:
        execution_context = self.execution_context
        try:
            execution_context.graphql_document = self.cached_parse_document(
                execution_context.query, **execution_context.parse_options
            )
        except GraphQLError:
            execution_context.graphql_document = None
        yield
