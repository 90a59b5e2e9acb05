"""WebhookDeliverer: sends queued webhook deliveries, signed, at least once, with retries.

Every instance runs one. It claims due rows from the outbox (so instances share the work and
a dead instance's rows are picked up after the claim timeout), re-checks the destination with
the SSRF guard, POSTs to a checked address, and records the outcome: 2xx DELIVERED; timeouts,
connection errors, 429 and 5xx retried with jittered exponential backoff up to the configured
attempts, then FAILED; anything else (3xx: redirects are not followed, 4xx) FAILED at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from graphql_api.domain.errors import ServiceUnavailable
from graphql_api.domain.webhook_destinations import (
    DestinationPolicy,
    DestinationRefused,
    ResolvedDestination,
    UnresolvableHost,
)
from graphql_api.domain.webhook_events import delivery_body
from graphql_api.domain.webhook_signing import SecretBox, SecretUnavailable, signature_headers
from graphql_api.store.database import Database
from graphql_api.store.types import utcnow
from graphql_api.store.webhook_outbox import (
    DELIVERED,
    FAILED,
    RETRY,
    AttemptRecord,
    ClaimedDelivery,
    claim_due_deliveries,
    record_attempt,
)

log = logging.getLogger("graphql_api.webhooks")
USER_AGENT = "graphql-api-webhooks/1"


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    max_attempts: int = 8
    backoff_base_seconds: float = 10.0
    backoff_max_seconds: float = 3600.0
    request_timeout_seconds: float = 10.0
    claim_timeout_seconds: float = 60.0
    poll_interval_seconds: float = 1.0
    concurrency: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> DeliveryConfig:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            backoff_base_seconds=settings.webhook_backoff_base_seconds,
            backoff_max_seconds=settings.webhook_backoff_max_seconds,
            request_timeout_seconds=settings.webhook_request_timeout_seconds,
            claim_timeout_seconds=settings.webhook_claim_timeout_seconds,
            poll_interval_seconds=settings.webhook_poll_interval_seconds,
            concurrency=settings.webhook_concurrency,
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before the next try: base * 2**(attempt-1), capped, with equal jitter
        (half fixed, half random) so a receiver's recovering clients do not retry in step."""
        delay = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        delay = delay / 2 + random.uniform(0, delay / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max_seconds))
        return delay


class WebhookDeliverer:
    """A background worker (`services.workers`): `start()` begins polling, `stop()` drains."""

    def __init__(
        self,
        db: Database,
        *,
        instance_id: str,
        policy: DestinationPolicy,
        secrets: SecretBox,
        config: DeliveryConfig | None = None,
    ) -> None:
        self.db = db
        self.instance_id = instance_id
        self.policy = policy
        self.secrets = secrets
        self.config = config or DeliveryConfig()
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, db: Database, settings: Any, *, instance_id: str) -> WebhookDeliverer:
        return cls(
            db,
            instance_id=instance_id,
            policy=DestinationPolicy.from_setting(settings.webhook_allowed_hosts),
            secrets=SecretBox.from_setting(settings.webhook_secret_keys),
            config=DeliveryConfig.from_settings(settings),
        )

    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        # No redirects; no proxies from the environment (they would connect elsewhere than
        # the address the guard checked); no kept-alive connections (a pooled connection is
        # keyed by address, and one verified for another host name must not be reused); and a
        # timeout on every phase of a request.
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.config.request_timeout_seconds),
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"user-agent": USER_AGENT},
        )
        self._task = asyncio.create_task(self._run(), name=f"webhook-deliverer:{self.instance_id}")

    async def stop(self) -> None:
        """Stop claiming; let attempts under way finish (each is bounded by the request
        timeout); a row still unfinished is retried by any instance after the claim timeout."""
        if self._task is None:
            return
        self._stopping.set()
        await self._task
        self._task = None
        if self._in_flight:
            _, pending = await asyncio.wait(
                self._in_flight, timeout=self.config.request_timeout_seconds + 1
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            free = self.config.concurrency - len(self._in_flight)
            claimed: list[ClaimedDelivery] = []
            if free > 0:
                try:
                    claimed = await self.claim(free)
                except ServiceUnavailable as error:  # the database is away: try again next poll
                    log.warning("claiming webhook deliveries failed: %s", error.message)
                except Exception:
                    log.warning("claiming webhook deliveries failed", exc_info=True)
            for delivery in claimed:
                task = asyncio.create_task(self._deliver(delivery))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            if not claimed or len(claimed) < free:
                await self._pause()  # nothing more is due now, or every slot is busy

    async def _pause(self) -> None:
        """A poll interval, cut short by stop() or (when every slot is busy) a free slot."""
        stop = asyncio.ensure_future(self._stopping.wait())
        waiters: set[asyncio.Future[Any]] = {stop}
        if len(self._in_flight) >= self.config.concurrency:
            waiters |= set(self._in_flight)
        await asyncio.wait(
            waiters, timeout=self.config.poll_interval_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        stop.cancel()

    async def claim(self, limit: int) -> list[ClaimedDelivery]:
        now = utcnow()
        lease_until = now + timedelta(seconds=self.config.claim_timeout_seconds)
        async with self.db.transaction() as conn:
            return await claim_due_deliveries(
                conn, instance_id=self.instance_id, limit=limit, now=now, lease_until=lease_until
            )

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        try:
            record = await self.attempt(delivery)
            async with self.db.transaction() as conn:
                kept = await record_attempt(
                    conn, delivery, record, instance_id=self.instance_id, now=utcnow()
                )
            if not kept:
                log.info(
                    "webhook delivery %s: claim lost before its result was stored", delivery.id
                )
        except Exception:
            log.exception("webhook delivery %s: attempt %d crashed", delivery.id, delivery.attempt)

    async def attempt(self, delivery: ClaimedDelivery) -> AttemptRecord:
        """One attempt, never longer than the request timeout; classified, not raised."""
        started_at, started = utcnow(), time.monotonic()

        def done(
            outcome: str,
            status: int | None = None,
            error: str | None = None,
            retry_after: float | None = None,
        ) -> AttemptRecord:
            if outcome == RETRY and delivery.attempt >= self.config.max_attempts:
                outcome = FAILED
                error = f"gave up after {delivery.attempt} attempts: {error or f'HTTP {status}'}"
            next_at: datetime | None = None
            if outcome == RETRY:
                delay = self.config.backoff(delivery.attempt, retry_after)
                next_at = utcnow() + timedelta(seconds=delay)
            elapsed = int((time.monotonic() - started) * 1000)
            return AttemptRecord(
                outcome, started_at, elapsed, status, error and error[:1000], next_at
            )

        if delivery.attempt > self.config.max_attempts:
            return done(
                FAILED, error="gave up: the last attempt's instance stopped before it finished"
            )
        try:
            async with asyncio.timeout(self.config.request_timeout_seconds):
                target = await self.policy.resolve(delivery.url)
                response = await self._post(target, delivery)
        except DestinationRefused as exc:
            return done(FAILED, error=f"destination refused: {exc}")
        except (TimeoutError, httpx.TimeoutException):
            return done(RETRY, error=f"timed out after {self.config.request_timeout_seconds:g}s")
        except (UnresolvableHost, SecretUnavailable) as exc:
            return done(RETRY, error=str(exc))
        except (httpx.TransportError, OSError) as exc:
            return done(RETRY, error=f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return done(DELIVERED, status)
        if status == 429 or status >= 500:
            return done(RETRY, status, f"HTTP {status}", _retry_after(response))
        if 300 <= status < 400:
            return done(FAILED, status, f"HTTP {status}: redirects are not followed")
        return done(FAILED, status, f"HTTP {status}")

    async def _post(self, target: ResolvedDestination, delivery: ClaimedDelivery) -> httpx.Response:
        """POST to the first checked address that accepts a connection.

        The URL's host is replaced by the address, with the real host kept in the Host header
        and (for https) as the TLS server name, so certificates are still verified for it.
        """
        assert self._client is not None, "start() the deliverer first"
        secret = self.secrets.open(delivery.stored_secret)
        body = delivery_body(delivery.event_type, delivery.created_at, delivery.payload)
        headers = {
            "content-type": "application/json",
            **signature_headers(secret, str(delivery.id), int(time.time()), body),
        }
        url = httpx.URL(delivery.url)
        headers["host"] = url.netloc.decode("ascii")
        extensions = (
            {"sni_hostname": url.raw_host.decode("ascii")} if target.scheme == "https" else {}
        )
        last_error: Exception | None = None
        for address in target.addresses:
            request = self._client.build_request(
                "POST",
                url.copy_with(host=str(address)),
                content=body,
                headers=headers,
                extensions=extensions,
            )
            try:
                response = await self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last_error = exc
                continue
            await response.aclose()  # the status is all we keep; never read a large body
            return response
        assert last_error is not None
        raise last_error


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
