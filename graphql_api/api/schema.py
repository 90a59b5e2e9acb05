"""The Strawberry schema: the contract's roots plus the extensions every operation passes."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from graphql_api.api.errors import assign_codes
from graphql_api.api.queries import Query
from graphql_api.api.types.checkpoint import Checkpoint
from graphql_api.api.types.message import Message
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn
from graphql_api.api.types.viewer import ApiKey


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Every error gets its code here; internal ones are logged with the request id."""
        assign_codes(errors, execution_context)


def build_schema() -> strawberry.Schema:
    return _Schema(
        query=Query,
        types=[Session, Turn, Message, Checkpoint, ApiKey],
        extensions=[
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
        ],
    )


schema = build_schema()
