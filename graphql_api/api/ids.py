"""Opaque global IDs (Relay object identification): base64url of "Type:key"."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from uuid import UUID

from graphql_api.domain.errors import BadUserInput

# How each type's key is written and read back.
_KEY_PARSERS: dict[str, Any] = {
    "Session": UUID,
    "Turn": UUID,
    "Message": int,
    "Checkpoint": UUID,
    "ApiKey": UUID,
    "ToolApproval": UUID,
    "Webhook": UUID,
    "WebhookDelivery": UUID,
}


def to_global_id(type_name: str, key: Any) -> str:
    raw = f"{type_name}:{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def from_global_id(global_id: str, *, field: str = "id") -> tuple[str, Any]:
    """(type name, key); a malformed ID is BAD_USER_INPUT naming the argument."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, key = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        return type_name, _KEY_PARSERS[type_name](key)
    except (binascii.Error, UnicodeDecodeError, KeyError, ValueError, TypeError):
        raise BadUserInput(f"'{global_id}' is not a valid ID", field=field) from None


def expect_global_id(global_id: str, type_name: str, *, field: str = "id") -> Any:
    """The key of an ID that must name a `type_name`."""
    actual, key = from_global_id(global_id, field=field)
    if actual != type_name:
        raise BadUserInput(f"'{global_id}' is not a {type_name} ID", field=field)
    return key
