"""createApiKey / revokeApiKey: admin keys only."""

from __future__ import annotations

from types import SimpleNamespace

import strawberry

from graphql_api.api.context import Info
from graphql_api.api.ids import expect_global_id
from graphql_api.api.types.viewer import ApiKey
from graphql_api.domain.errors import BadUserInput, Forbidden, NotFound
from graphql_api.domain.principal import Principal
from graphql_api.store.api_keys import ApiKeyRepository
from graphql_api.store.types import utcnow


@strawberry.input
class CreateApiKeyInput:
    name: str
    is_admin: bool | None = False


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey
    secret: str = strawberry.field(description="The secret, shown only in this response; only a hash is stored.")


@strawberry.input
class RevokeApiKeyInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiKeyPayload:
    api_key: ApiKey


def _admin(info: Info) -> Principal:
    principal = info.context.principal
    if not principal.is_admin:
        raise Forbidden("only admin keys manage API keys")
    return principal


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(description="Admin keys only.")
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        _admin(info)
        name = input.name.strip()
        if not name or len(name) > 200:
            raise BadUserInput("name must be 1 to 200 characters", field="input.name")
        created = await info.context.services.api_keys.create(name, is_admin=bool(input.is_admin))
        row = SimpleNamespace(**created.row, last_used_at=None, revoked_at=None)
        return CreateApiKeyPayload(api_key=ApiKey.from_row(row), secret=created.secret)

    @strawberry.mutation(description="Admin keys only.")
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        principal = _admin(info)
        key_id = expect_global_id(input.id, "ApiKey", field="input.id")
        services = info.context.services
        async with services.db.transaction() as conn:
            repo = ApiKeyRepository(conn)
            await repo.revoke(key_id, utcnow())
            row = (await repo.get_many(principal, [key_id])).get(key_id)
        if row is None:
            raise NotFound("no such API key", field="input.id")
        services.api_keys.forget()
        return RevokeApiKeyPayload(api_key=ApiKey.from_row(row))
