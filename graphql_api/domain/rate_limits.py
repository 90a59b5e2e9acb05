"""Rate limits per API key (DESIGN.md, decision 10), shared by every instance through Redis.

Three budgets, each "N/period" in the `limits` library's notation:
- TURNS: operations that start agent turns (sendMessage, createSession with a prompt);
- MUTATIONS: every other mutation;
- READS: queries and subscription starts.

Strategies (`limits.aio.strategies`), one per budget:
- TURNS and MUTATIONS: a moving window (MovingWindowRateLimiter). It is exact: no window of
  the period ever holds more than N hits, with no double burst at a window boundary (fixed
  windows allow 2N). These budgets are small and their hits expensive (a turn starts an agent
  process and costs money), so exactness is worth its price: N timestamps per key in Redis.
- READS: a sliding window counter (SlidingWindowCounterRateLimiter): two counters per key
  whatever N is, and no boundary burst either; the previous window is weighted as if its
  hits were spread evenly, which is close enough for a large budget of cheap operations.
Both run as one atomic Lua script in Redis. `retryAfter` comes from the window itself: when
the oldest hit leaves a moving window, or when the weighted count next drops.

When Redis does not answer, RATE_LIMIT_FAIL_OPEN decides: allow (and log), or refuse with
RATE_LIMITED and `reason: "LIMITER_UNAVAILABLE"`. After a failure Redis is left alone for a
second, so an outage costs one timeout per second, not one per request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from enum import StrEnum
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.aio.strategies import (
    RateLimiter as Strategy,
)

from graphql_api.domain.errors import RateLimited
from graphql_api.settings import Settings

log = logging.getLogger("graphql_api.rate_limits")

#: How long Redis is not asked again after it failed to answer.
PAUSE_AFTER_FAILURE_SECONDS = 1.0


class Budget(StrEnum):
    TURNS = "turns"
    MUTATIONS = "mutations"
    READS = "reads"


def _storage_uri(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "async+redis+unix://" + redis_url.removeprefix("unix://")
    return "async+" + redis_url


class RateLimiter:
    """Spends budgets of one identity (an API key id, or the address of an anonymous caller)."""

    def __init__(
        self,
        budgets: dict[Budget, RateLimitItem],
        storage: Storage,
        *,
        fail_open: bool,
        timeout_seconds: float,
        shared: bool,
    ) -> None:
        self.budgets = budgets
        self.storage = storage
        moving = MovingWindowRateLimiter(storage)
        self.strategies: dict[Budget, Strategy] = {
            Budget.TURNS: moving,
            Budget.MUTATIONS: moving,
            Budget.READS: SlidingWindowCounterRateLimiter(storage),
        }
        self.fail_open = fail_open
        self.timeout_seconds = timeout_seconds
        #: True when the counts live in Redis (every instance sees them).
        self.shared = shared
        self._paused_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        budgets = {
            Budget.TURNS: parse(settings.rate_limit_turns),
            Budget.MUTATIONS: parse(settings.rate_limit_mutations),
            Budget.READS: parse(settings.rate_limit_reads),
        }
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                _storage_uri(settings.redis_url),
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=f"{settings.redis_channel_prefix}gapi-ratelimit",
                socket_timeout=settings.rate_limit_timeout_seconds,
                socket_connect_timeout=settings.rate_limit_timeout_seconds,
            )
        else:
            storage = MemoryStorage()
        return cls(
            budgets,
            storage,
            fail_open=settings.rate_limit_fail_open,
            timeout_seconds=settings.rate_limit_timeout_seconds,
            shared=bool(settings.redis_url),
        )

    async def spend(self, budget: Budget, identity: str, cost: int = 1) -> None:
        """Take `cost` from the identity's budget, or raise RateLimited with `retryAfter`."""
        if cost <= 0:
            return
        item = self.budgets[budget]
        strategy = self.strategies[budget]
        if time.monotonic() < self._paused_until:
            self._unavailable(budget, None)
            return
        try:
            async with asyncio.timeout(self.timeout_seconds):
                if await strategy.hit(item, budget.value, identity, cost=cost):
                    return
                stats = await strategy.get_window_stats(item, budget.value, identity)
        except Exception as error:  # noqa: BLE001 - storage errors, timeouts: Redis is away
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
            self._unavailable(budget, error)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"rate limit of {item} for {budget.value} reached; retry in {retry_after} s",
            retryAfter=retry_after,
            budget=budget.value,
            limit=str(item),
        )

    def _unavailable(self, budget: Budget, error: BaseException | None) -> None:
        if error is not None:
            log.warning(
                "rate limiter storage did not answer (%s); %s for %s s",
                type(error).__name__,
                "allowing requests" if self.fail_open else "refusing requests",
                PAUSE_AFTER_FAILURE_SECONDS,
            )
        if not self.fail_open:
            raise RateLimited(
                "rate limits cannot be checked right now; retry shortly",
                retryAfter=math.ceil(PAUSE_AFTER_FAILURE_SECONDS),
                budget=budget.value,
                reason="LIMITER_UNAVAILABLE",
            )

    async def close(self) -> None:
        client: Any = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()
