"""The Strawberry schema: the contract's roots, merged from one class per concept."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.tools import merge_types

from graphql_api.api.acyclic_executor import AcyclicExecutor
from graphql_api.api.errors import assign_codes
from graphql_api.api.event_executor import EventScopedMemoExecutor
from graphql_api.api.fast_fields import LeafFastPath, install_leaf_fields, install_type_resolvers
from graphql_api.api.parser_cache import ReportingParserCache
from graphql_api.api.plain_resolvers import install_plain_resolvers
from graphql_api.api.mutations.api_keys import ApiKeyMutations
from graphql_api.api.mutations.approvals import ApprovalMutations
from graphql_api.api.mutations.sessions import SessionMutations
from graphql_api.api.mutations.turns import TurnMutations
from graphql_api.api.mutations.webhooks import WebhookMutations
from graphql_api.api.operation_observer import OperationObserver
from graphql_api.api.operation_pipeline import DirectExecution
from graphql_api.api.query_limits import QueryLimits, SizeLimitedSchema
from graphql_api.api.rate_limits import RateLimits
from graphql_api.api.queries import Query as SessionQueries
from graphql_api.api.subscriptions import SessionSubscriptions
from graphql_api.api.types.approval import ToolApproval
from graphql_api.api.types.checkpoint import Checkpoint
from graphql_api.api.types.events import EVENT_TYPES
from graphql_api.api.types.message import Message
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn
from graphql_api.api.types.viewer import ApiKey
from graphql_api.api.types.webhook import Webhook, WebhookDelivery
from graphql_api.api.validation_cache import CachedValidation
from graphql_api.api.webhook_queries import WebhookQueries

# Each concept contributes its root fields here.
QUERIES: tuple[type, ...] = (SessionQueries, WebhookQueries)
MUTATIONS: tuple[type, ...] = (
    SessionMutations,
    TurnMutations,
    ApprovalMutations,
    ApiKeyMutations,
    WebhookMutations,
)
SUBSCRIPTIONS: tuple[type, ...] = (SessionSubscriptions,)


class _Executor(LeafFastPath, EventScopedMemoExecutor, AcyclicExecutor):
    """graphql-core's executor as Strawberry runs it, with leaf fields on a short path
    (api/fast_fields.py), per-event memos for subscriptions (api/event_executor.py), and no
    reference cycle that would keep a finished request's objects alive (api/acyclic_executor.py)."""


class _Schema(SizeLimitedSchema, DirectExecution):
    """Oversized documents refused first (api/query_limits.py); queries and mutations then
    run their steps without Strawberry's extension runner (api/operation_pipeline.py)."""

    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        """Every error gets its code here; internal ones are logged with the request id."""
        assign_codes(errors, execution_context)


def build_schema() -> strawberry.Schema:
    built = _Schema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS) if MUTATIONS else None,
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        types=[
            Session, Turn, Message, Checkpoint, ApiKey, ToolApproval, Webhook, WebhookDelivery,
            *EVENT_TYPES,
        ],  # fmt: skip
        # Strawberry's executor, with a leaf fast path and per-event memos (see _Executor).
        execution_context_class=_Executor,
        # Subscriptions run these through Strawberry; queries and mutations run the same steps
        # directly (api/operation_pipeline.py), which checks this list is what it stands in for.
        extensions=[
            OperationObserver,  # first: sees every outcome
            QueryLimits,  # before parsing: sets the token cap and validation rules
            ReportingParserCache,
            CachedValidation,
            RateLimits,  # on_execute, after the cost check: refused queries spend no budget
        ],
    )
    install_plain_resolvers(built)  # first: the leaf fast path replaces some with a plain read
    install_leaf_fields(built._schema)
    install_type_resolvers(built._schema)
    return built


schema = build_schema()
