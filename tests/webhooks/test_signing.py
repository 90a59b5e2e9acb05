"""Signing secrets: Standard Webhooks format, and sealed at rest when keys are configured."""

from __future__ import annotations

import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as StandardWebhook

from graphql_api.domain.principal import Principal
from graphql_api.domain.webhook_destinations import DestinationPolicy
from graphql_api.domain.webhook_events import TURN_FINISHED
from graphql_api.domain.webhook_signing import (
    SecretBox,
    SecretUnavailable,
    new_signing_secret,
    signature_headers,
)
from graphql_api.domain.webhooks import WebhookService
from graphql_api.store.webhooks import webhooks_table
from tests.webhooks.conftest import ALLOWED
from tests.webhooks.support import finish_turn, new_session


def test_signatures_verify_with_the_reference_implementation():
    secret = new_signing_secret()
    body = b'{"type":"TURN_FINISHED","data":{}}'
    headers = signature_headers(secret, "msg_1", int(time.time()), body)
    assert StandardWebhook(secret).verify(body, headers) == {"type": "TURN_FINISHED", "data": {}}
    assert headers["webhook-signature"].startswith("v1,")


def test_secrets_are_sealed_with_the_first_key_and_opened_with_any():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    secret = new_signing_secret()
    sealed_old = SecretBox([old]).seal(secret)
    assert secret not in sealed_old
    rotated = SecretBox([new, old])
    assert rotated.open(sealed_old) == secret
    assert rotated.open(rotated.seal(secret)) == secret
    assert rotated.open(secret) == secret  # stored before keys were configured
    assert SecretBox().seal(secret) == secret  # no keys: stored as is
    with pytest.raises(SecretUnavailable):
        SecretBox().open(sealed_old)
    with pytest.raises(SecretUnavailable):
        SecretBox([new]).open(sealed_old)
    assert secret not in repr(SecretBox([new]))


async def test_a_sealed_secret_still_signs(hook_services, hook_key, receiver, deliverer):
    box = SecretBox([Fernet.generate_key().decode()])
    owner, _ = await hook_key()
    session = await new_session(hook_services, owner)
    path = receiver.new_path()
    service = WebhookService(hook_services.db, DestinationPolicy.from_setting(ALLOWED), box)
    created = await service.create(
        Principal(owner, "owner", False),
        url=receiver.url(path),
        events=[TURN_FINISHED],
        session_id=None,
    )
    async with hook_services.db.read() as conn:
        stored = (
            await conn.execute(
                select(webhooks_table.c.secret).where(webhooks_table.c.id == created.row.id)
            )
        ).scalar_one()
    assert stored.startswith("fernet:") and created.secret not in stored

    await finish_turn(hook_services, owner, session)
    await deliverer(secrets=box)
    [request] = await receiver.wait_for(path, 1)
    assert (
        StandardWebhook(created.secret).verify(request.body, request.headers)["type"]
        == TURN_FINISHED
    )
