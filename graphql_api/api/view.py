"""The /graphql endpoint: HTTP (POST, GET, GraphiQL) and websockets, with the caller's key."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from graphql_api.api.context import RequestContext
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

        super().__init__(schema, **kwargs)
        self.services = services

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
        )

    async def on_ws_connect(self, context: RequestContext) -> None:
        """Websocket auth: the connection_init payload's key, else the upgrade request's."""
        secret = api_key_from_payload(context.connection_params)
        if secret is not None:
            context.principal_or_none = await self.services.api_keys.authenticate(secret)
        if context.principal_or_none is None:
            raise ConnectionRejectionError({"message": "a valid API key is required"})
