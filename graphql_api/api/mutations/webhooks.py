"""createWebhook / deleteWebhook: the caller's webhooks; the signing secret is shown once."""

from __future__ import annotations

import strawberry

from graphql_api.api.context import Info
from graphql_api.api.ids import expect_global_id, to_global_id
from graphql_api.api.types.webhook import Webhook, WebhookEventType
from graphql_api.domain.webhooks import WebhookService


@strawberry.input
class CreateWebhookInput:
    url: str
    events: list[WebhookEventType]
    session_id: strawberry.ID | None = None


@strawberry.type
class CreateWebhookPayload:
    webhook: Webhook
    secret: str = strawberry.field(description="The signing secret, shown only in this response.")


@strawberry.input
class DeleteWebhookInput:
    id: strawberry.ID


@strawberry.type
class DeleteWebhookPayload:
    deleted_id: strawberry.ID


def _service(info: Info) -> WebhookService:
    return WebhookService.from_settings(info.context.services.db, info.context.settings)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
        principal = info.context.principal
        session_id = (
            expect_global_id(input.session_id, "Session", field="input.sessionId")
            if input.session_id is not None
            else None
        )
        created = await _service(info).create(
            principal, url=input.url, events=[e.value for e in input.events], session_id=session_id
        )
        return CreateWebhookPayload(webhook=Webhook.from_row(created.row), secret=created.secret)

    @strawberry.mutation
    async def delete_webhook(self, info: Info, input: DeleteWebhookInput) -> DeleteWebhookPayload:
        principal = info.context.principal
        webhook_id = expect_global_id(input.id, "Webhook", field="input.id")
        await _service(info).delete(principal, webhook_id)
        return DeleteWebhookPayload(deleted_id=strawberry.ID(to_global_id("Webhook", webhook_id)))
