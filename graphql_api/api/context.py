"""The per-request context: who is calling, the database, and this request's DataLoaders."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from graphql_api.api.loaders import Loaders
from graphql_api.domain.errors import DatabaseUnavailable, Unauthenticated
from graphql_api.domain.principal import Principal

if TYPE_CHECKING:
    from graphql_api.api.subscription_limits import SubscriptionSlots
    from graphql_api.services import Services

# Loaders of the event a subscription is sending now (with the context they belong to). A
# ContextVar, because every websocket operation runs in its own task while all of them share
# the connection's one context.
_event_loaders: ContextVar[tuple[RequestContext, Loaders] | None] = ContextVar(
    "event_loaders", default=None
)


@dataclass
class RequestContext:
    services: Services
    principal_or_none: Principal | None
    request: Any = None
    response: Any = None
    request_id: str = ""
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, repr=False)
    #: Caps on live subscriptions (None: no caps); `live_subscriptions` counts this connection's.
    subscription_slots: SubscriptionSlots | None = field(default=None, repr=False)
    live_subscriptions: int = 0
    #: The key could not be checked because the database is away: fields answer
    #: SERVICE_UNAVAILABLE, not UNAUTHENTICATED (the key may well be valid).
    auth_unavailable: bool = False

    @property
    def principal(self) -> Principal:
        """The caller; every field that touches data asks for it, so no key means no data."""
        if self.principal_or_none is None:
            if self.auth_unavailable:
                raise DatabaseUnavailable()
            raise Unauthenticated(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'"
            )
        return self.principal_or_none

    @property
    def loaders(self) -> Loaders:
        scoped = _event_loaders.get()
        if scoped is not None and scoped[0] is self:
            return scoped[1]
        if self._loaders is None:
            self._loaders = Loaders(self.services.db, self.principal)
        return self._loaders

    def use_fresh_loaders(self) -> None:
        """New DataLoaders for the next event of the running subscription: a websocket lives
        for hours, and its events must not be served rows cached when an earlier one was sent."""
        _event_loaders.set((self, Loaders(self.services.db, self.principal)))

    @property
    def settings(self) -> Any:
        return self.services.settings


Info = StrawberryInfo[RequestContext, None]
