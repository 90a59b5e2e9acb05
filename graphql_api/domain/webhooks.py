"""Creating and deleting webhooks: the rules (destination, events, session ownership)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from graphql_api.domain.errors import BadUserInput, NotFound
from graphql_api.domain.principal import Principal
from graphql_api.domain.webhook_destinations import DestinationError, DestinationPolicy
from graphql_api.domain.webhook_events import WEBHOOK_EVENT_TYPES
from graphql_api.domain.webhook_signing import SecretBox, new_signing_secret
from graphql_api.store.database import Database
from graphql_api.store.types import new_id, utcnow
from graphql_api.store.webhooks import WebhookRepository


@dataclass(frozen=True, slots=True)
class CreatedWebhook:
    row: Any
    secret: str  # shown once, to the creator

    def __repr__(self) -> str:
        return f"CreatedWebhook(id={self.row.id})"


class WebhookService:
    def __init__(self, db: Database, policy: DestinationPolicy, secrets: SecretBox) -> None:
        self.db = db
        self.policy = policy
        self.secrets = secrets

    @classmethod
    def from_settings(cls, db: Database, settings: Any) -> WebhookService:
        return cls(
            db,
            DestinationPolicy.from_setting(settings.webhook_allowed_hosts),
            SecretBox.from_setting(settings.webhook_secret_keys),
        )

    async def create(
        self, principal: Principal, *, url: str, events: Sequence[str], session_id: UUID | None
    ) -> CreatedWebhook:
        """A webhook of the caller's key; its session, when given, must be the key's own."""
        url = url.strip()
        try:
            await self.policy.resolve(url)
        except DestinationError as exc:
            raise BadUserInput(f"webhook URL refused: {exc}", field="input.url") from None
        wanted = list(dict.fromkeys(events))
        if not wanted:
            raise BadUserInput("subscribe to at least one event", field="input.events")
        unknown = [e for e in wanted if e not in WEBHOOK_EVENT_TYPES]
        if unknown:
            raise BadUserInput(f"unknown event types {unknown}", field="input.events")
        secret = new_signing_secret()
        async with self.db.transaction() as conn:
            repo = WebhookRepository(conn)
            if session_id is not None and not await repo.owns_session(principal.key_id, session_id):
                # Strictly the key's own: events are matched by the session's owner.
                raise NotFound("no such session", field="input.sessionId")
            row = await repo.insert(
                {
                    "id": new_id(),
                    "owner_key_id": principal.key_id,
                    "session_id": session_id,
                    "url": url,
                    "events": wanted,
                    "secret": self.secrets.seal(secret),
                    "created_at": utcnow(),
                }
            )
        return CreatedWebhook(row=row, secret=secret)

    async def delete(self, principal: Principal, webhook_id: UUID) -> None:
        """Deletes it with its deliveries; another key's webhook is NOT_FOUND."""
        async with self.db.transaction() as conn:
            if not await WebhookRepository(conn).delete(principal, webhook_id):
                raise NotFound("no such webhook", field="input.id")
