"""Relay connection arguments -> keyset PageSpec, and opaque cursors that carry the sort key.

A cursor is base64url of JSON: the list it belongs to, then the sort-key values tagged by
type. A cursor of another list, or one that does not decode, is BAD_USER_INPUT.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from graphql_api.domain.errors import BadUserInput
from graphql_api.store.keyset import PageSpec


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return ["d", value.isoformat()]
    if isinstance(value, UUID):
        return ["u", value.hex]
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, list):
        kind, text = value
        if kind == "d":
            return datetime.fromisoformat(text)
        if kind == "u":
            return UUID(hex=text)
        raise ValueError(kind)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise ValueError(value)


def encode_cursor(list_name: str, keys: tuple[Any, ...]) -> str:
    payload = json.dumps([list_name, *map(_encode_value, keys)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, list_name: str, *, field: str) -> tuple[Any, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        name, *values = payload
        keys = tuple(_decode_value(v) for v in values)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise BadUserInput(f"'{cursor}' is not a valid cursor", field=field) from None
    if name != list_name or not keys:
        raise BadUserInput(f"the cursor in '{field}' belongs to another list", field=field)
    return keys


def page_spec(
    list_name: str,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    default_size: int,
    max_size: int,
) -> PageSpec:
    """Validate Relay arguments: one of first/last, within 0..max_size."""
    if first is not None and last is not None:
        raise BadUserInput("give either 'first' or 'last', not both", field="last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= max_size:
            raise BadUserInput(
                f"'{name}' must be between 0 and {max_size}, got {value}", field=name, max=max_size
            )
    after_keys = decode_cursor(after, list_name, field="after") if after is not None else None
    before_keys = decode_cursor(before, list_name, field="before") if before is not None else None
    if last is not None:
        return PageSpec(limit=last, forward=False, after=after_keys, before=before_keys)
    size = first if first is not None else default_size
    return PageSpec(limit=size, forward=True, after=after_keys, before=before_keys)
