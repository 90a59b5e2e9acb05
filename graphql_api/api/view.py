"""The /graphql endpoint: HTTP (POST, GET, GraphiQL) and websockets, with the caller's key."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from graphql_api.api.context import RequestContext
from graphql_api.api.subscription_limits import SubscriptionSlots
from graphql_api.services import Services


def api_key_from_headers(headers: Any) -> str | None:
    """`Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return headers.get("x-api-key") or None


def api_key_from_payload(payload: Any) -> str | None:
    """The graphql-ws connection_init payload: {"authorization": "Bearer k"} or {"apiKey": "k"}."""
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("apiKey"), str):
        return payload["apiKey"]
    authorization = payload.get("authorization") or payload.get("Authorization")
    if isinstance(authorization, str):
        return api_key_from_headers({"authorization": authorization})
    return None


class GraphQLView(GraphQL[RequestContext, None]):
    def __init__(self, services: Services, **kwargs: Any) -> None:
        from graphql_api.api.schema import schema

        settings = services.settings
        kwargs.setdefault("keep_alive", settings.ws_keep_alive_seconds > 0)
        kwargs.setdefault("keep_alive_interval", settings.ws_keep_alive_seconds or 1.0)
        kwargs.setdefault(
            "connection_init_wait_timeout",
            timedelta(seconds=settings.ws_connection_init_timeout_seconds),
        )
        # Strawberry's own cap counts every in-flight websocket operation and answers without a
        # code; ours (RATE_LIMITED, subscription_limits.py) counts subscriptions and comes first.
        kwargs.setdefault(
            "max_subscriptions_per_connection", 2 * settings.subscriptions_per_connection + 10
        )
        super().__init__(schema, **kwargs)
        self.services = services
        self.subscription_slots = SubscriptionSlots(
            per_connection=settings.subscriptions_per_connection,
            per_key=settings.subscriptions_per_key,
        )

    async def get_context(
        self, request: Request | WebSocket, response: Any
    ) -> RequestContext:
        secret = api_key_from_headers(request.headers)
        principal = await self.services.api_keys.authenticate(secret)
        request_id = request.headers.get("x-request-id") or secrets.token_hex(8)
        return RequestContext(
            services=self.services,
            principal_or_none=principal,
            request=request,
            response=response,
            request_id=request_id,
            subscription_slots=self.subscription_slots,
        )

    async def on_ws_connect(self, context: RequestContext) -> None:
        """Websocket auth: the connection_init payload's key, else the upgrade request's."""
        secret = api_key_from_payload(context.connection_params)
        if secret is not None:
            context.principal_or_none = await self.services.api_keys.authenticate(secret)
        if context.principal_or_none is None:
            raise ConnectionRejectionError({"message": "a valid API key is required"})
