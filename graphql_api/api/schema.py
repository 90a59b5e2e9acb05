"""The Strawberry schema: the contract's roots, merged from one class per concept."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.tools import merge_types

from graphql_api.api.errors import assign_codes
from graphql_api.api.queries import Query as SessionQueries
from graphql_api.api.types.checkpoint import Checkpoint
from graphql_api.api.types.message import Message
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn
from graphql_api.api.types.viewer import ApiKey

# Each concept contributes its root fields here.
QUERIES: tuple[type, ...] = (SessionQueries,)
MUTATIONS: tuple[type, ...] = ()
SUBSCRIPTIONS: tuple[type, ...] = ()


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Every error gets its code here; internal ones are logged with the request id."""
        assign_codes(errors, execution_context)


def build_schema() -> strawberry.Schema:
    return _Schema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS) if MUTATIONS else None,
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        types=[Session, Turn, Message, Checkpoint, ApiKey],
        extensions=[
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )


schema = build_schema()
