"""Signing secrets: made once, stored so they can sign, used per the Standard Webhooks spec.

A secret must stay usable to sign, so it cannot be hashed like an API key. It is shown once
(in `createWebhook`), never read back by the API and never logged. With WEBHOOK_SECRET_KEYS
set, it is stored Fernet-encrypted, so a database dump or backup alone does not leak it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

SECRET_PREFIX = "whsec_"
_ENCRYPTED_PREFIX = "fernet:"


class SecretUnavailable(Exception):
    """A stored secret cannot be decrypted with the configured keys (a configuration error)."""


def new_signing_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the spec asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, keyed by the secret's decoded bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


class SecretBox:
    """Seals secrets for storage and opens them for signing.

    Without keys a secret is stored as is (`whsec_...`). With keys, new secrets are encrypted
    with the first key; every listed key can open, so keys rotate by prepending a new one.
    Rows stored before keys were configured still open.
    """

    def __init__(self, keys: list[str] | None = None) -> None:
        self._fernet: Any = None
        if keys:
            from cryptography.fernet import Fernet, MultiFernet

            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        return cls([k.strip() for k in value.split(",") if k.strip()])

    def __repr__(self) -> str:
        return f"SecretBox(encrypting={self._fernet is not None})"

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return secret
        return _ENCRYPTED_PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(_ENCRYPTED_PREFIX):
            return stored
        if self._fernet is None:
            raise SecretUnavailable("the signing secret is encrypted; set WEBHOOK_SECRET_KEYS")
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored.removeprefix(_ENCRYPTED_PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretUnavailable(
                "no key in WEBHOOK_SECRET_KEYS opens the signing secret"
            ) from None
