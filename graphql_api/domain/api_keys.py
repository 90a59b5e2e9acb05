"""API keys: minting secrets, authenticating requests, recording use without a write per request."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from graphql_api.domain.principal import Principal
from graphql_api.store.api_keys import ApiKeyRepository
from graphql_api.store.database import Database
from graphql_api.store.types import new_id, utcnow

SECRET_PREFIX = "gak_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewApiKey:
    row: dict[str, Any]
    secret: str


class ApiKeyService:
    """Authenticates bearer secrets. A verified key is trusted for `cache_seconds`, so a
    burst of requests costs one lookup; `last_used_at` is written at most once per interval."""

    def __init__(
        self, db: Database, *, cache_seconds: float = 5.0, touch_interval: float = 60.0
    ) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self.touch_interval = touch_interval
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._touched: dict[UUID, float] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def create(self, name: str, *, is_admin: bool = False) -> NewApiKey:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": new_id(),
            "name": name,
            "prefix": secret[:12],
            "key_hash": hash_secret(secret),
            "is_admin": is_admin,
            "created_at": utcnow(),
        }
        async with self.db.transaction() as conn:
            await ApiKeyRepository(conn).insert(row)
        return NewApiKey(row=row, secret=secret)

    async def ensure_first_admin(self) -> NewApiKey | None:
        """On a database without keys, mint the first admin key (its secret is shown once)."""
        async with self.db.read() as conn:
            if await ApiKeyRepository(conn).count() > 0:
                return None
        return await self.create("admin", is_admin=True)

    async def authenticate(self, secret: str | None) -> Principal | None:
        if not secret:
            return None
        key_hash = hash_secret(secret)
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            async with self.db.read() as conn:
                row = await ApiKeyRepository(conn).find_active_by_hash(key_hash)
            if row is None:
                self._cache.pop(key_hash, None)
                return None
            principal = Principal(key_id=row.id, name=row.name, is_admin=row.is_admin)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key_hash] = (now + self.cache_seconds, principal)
        self._record_use(principal.key_id, now)
        return principal

    async def flush(self) -> None:
        """Wait for pending last-used writes (at shutdown, and in tests that count statements)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def forget(self) -> None:
        """Drop cached verifications (after a key is revoked on this instance)."""
        self._cache.clear()

    def _record_use(self, key_id: UUID, now: float) -> None:
        last = self._touched.get(key_id)
        if last is not None and now - last < self.touch_interval:
            return
        self._touched[key_id] = now
        task = asyncio.get_running_loop().create_task(self._touch(key_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _touch(self, key_id: UUID) -> None:
        try:
            async with self.db.transaction() as conn:
                await ApiKeyRepository(conn).touch(key_id, utcnow())
        except Exception:  # noqa: BLE001 - a missed last-used stamp must never fail a request
            self._touched.pop(key_id, None)
