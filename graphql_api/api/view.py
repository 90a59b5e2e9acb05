"""The /graphql endpoint: HTTP (POST, GET, GraphiQL) and websockets, with the caller's key."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from graphql_api.api.context import RequestContext
from graphql_api.api.fanout import GraphQLWSOperations, SubscriptionFanout, TransportWSOperations
from graphql_api.api.subscription_limits import SubscriptionSlots
from graphql_api.domain.errors import DatabaseUnavailable, ServiceUnavailable
from graphql_api.domain.principal import Principal
from graphql_api.services import Services

#: Websocket close code "Try Again Later" (RFC 6455 registry): the key could not be checked
#: because the database is away; the client should reconnect shortly.
WS_TRY_AGAIN_LATER = 1013


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


class _TransportWSHandler(
    TransportWSOperations, BaseGraphQLTransportWSHandler[RequestContext, None]
):
    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except ServiceUnavailable as error:
            await self.websocket.close(code=WS_TRY_AGAIN_LATER, reason=error.message[:120])


class _WSHandler(GraphQLWSOperations, BaseGraphQLWSHandler[RequestContext, None]):
    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except ServiceUnavailable as error:
            extensions = {"code": error.code.value, **error.extensions}
            await self.send_message(
                {"type": "connection_error", "payload": {"message": error.message, "extensions": extensions}}
            )  # type: ignore[typeddict-item]
            await self.websocket.close(code=WS_TRY_AGAIN_LATER, reason=error.message[:120])


class GraphQLView(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = _TransportWSHandler
    graphql_ws_handler_class = _WSHandler

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
        #: Live events answered once per group of like subscribers (api/fanout.py).
        self.fanout = SubscriptionFanout(schema)
        self.subscription_slots = SubscriptionSlots(
            per_connection=settings.subscriptions_per_connection,
            per_key=settings.subscriptions_per_key,
        )

    def encode_json(self, data: object) -> str | bytes:
        """Responses through orjson (BENCHMARKS.md, "Round 2"); what it refuses (an integer
        beyond 64 bits in a JSON value, say) through the standard library as before. Always
        text: websocket handlers send what this returns, and bytes would go as binary frames,
        which GraphQL websocket clients refuse."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return super().encode_json(data)

    async def get_context(
        self, request: Request | WebSocket, response: Any
    ) -> RequestContext:
        secret = api_key_from_headers(request.headers)
        principal: Principal | None = None
        unavailable = False
        try:
            principal = await self.services.api_keys.authenticate(secret)
        except ServiceUnavailable:
            unavailable = True  # every field that needs the caller answers SERVICE_UNAVAILABLE
        request_id = request.headers.get("x-request-id") or secrets.token_hex(8)
        return RequestContext(
            services=self.services,
            principal_or_none=principal,
            request=request,
            response=response,
            request_id=request_id,
            subscription_slots=self.subscription_slots,
            auth_unavailable=unavailable,
        )

    async def on_ws_connect(self, context: RequestContext) -> None:
        """Websocket auth: the connection_init payload's key, else the upgrade request's."""
        secret = api_key_from_payload(context.connection_params)
        if secret is not None:
            # ServiceUnavailable here closes with WS_TRY_AGAIN_LATER (the handlers above).
            context.principal_or_none = await self.services.api_keys.authenticate(secret)
            context.auth_unavailable = False
        if context.principal_or_none is None:
            if context.auth_unavailable:
                raise DatabaseUnavailable()
            raise ConnectionRejectionError({"message": "a valid API key is required"})
