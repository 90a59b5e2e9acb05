"""The per-request context: who is calling, the database, and this request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from graphql_api.api.loaders import Loaders
from graphql_api.domain.errors import Unauthenticated
from graphql_api.domain.principal import Principal

if TYPE_CHECKING:
    from graphql_api.services import Services


@dataclass
class RequestContext:
    services: Services
    principal_or_none: Principal | None
    request: Any = None
    response: Any = None
    request_id: str = ""
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def principal(self) -> Principal:
        """The caller; every field that touches data asks for it, so no key means no data."""
        if self.principal_or_none is None:
            raise Unauthenticated(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'"
            )
        return self.principal_or_none

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.services.db, self.principal)
        return self._loaders

    @property
    def settings(self) -> Any:
        return self.services.settings


Info = StrawberryInfo[RequestContext, None]
