"""The controller side of `bench.wsclient`: several client processes, commands to all of them,
their figures merged. Also the Redis publisher whose events carry their publish time."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import sys
import time
import uuid
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graphql_api.api.ids import to_global_id
from graphql_api.domain import events as ev

ROOT = Path(__file__).resolve().parents[1]

#: What a subscriber selects: the fields a live UI shows for a text delta.
EVENTS_QUERY = """subscription Events($id: ID!) {
  sessionEvents(sessionId: $id) { __typename sessionId sequence ... on TextDelta { turnId text } }
}"""


def raise_nofile(needed: int) -> int:
    """Raise this process's open-file limit (children and servers started later inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(needed, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        raise SystemExit(f"open-file limit {soft} is below the {needed} this run needs")
    return soft


class ClientProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._lock = asyncio.Lock()

    async def call(self, command: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        async with self._lock:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(json.dumps(command).encode() + b"\n")
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"bench.wsclient exited ({command['cmd']})")
            return json.loads(line)

    def cpu_seconds(self) -> float:
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Merged:
    """Figures of all client processes together."""

    def __init__(self, replies: Sequence[dict[str, Any]]) -> None:
        self.replies = replies
        self.received = sum(r["received"] for r in replies)
        self.redis_received = sum(r["redis_received"] for r in replies)
        self.seen = sum(r["seen"] for r in replies)
        self.errors = sum(r["errors"] for r in replies)
        self.error_samples = [s for r in replies for s in r["error_samples"]][:5]
        self.closed = sum(r["closed"] for r in replies)
        self.open = sum(r["open"] for r in replies)
        self.events = [e for r in replies for e in r["events"]]
        self.cpu_s = sum(r["cpu_s"] for r in replies)

    def latencies(self, field: str = "lat_us") -> list[float]:
        """Seconds."""
        values: list[float] = []
        for reply in self.replies:
            samples = array("I")
            samples.frombytes(base64.b64decode(reply[field]))
            values.extend(v / 1e6 for v in samples)
        return values


    def timeline(self, window: float) -> list[tuple[float, int, float, float, float]]:
        """(start s, deliveries, p50, p99, max) per `window` seconds of publish time."""
        pairs: list[tuple[int, float]] = []
        for reply in self.replies:
            lat, pub = array("I"), array("Q")
            lat.frombytes(base64.b64decode(reply["lat_us"]))
            pub.frombytes(base64.b64decode(reply["pub_ns"]))
            pairs.extend(zip(pub, (v / 1e6 for v in lat), strict=True))
        if not pairs:
            return []
        first = min(p for p, _ in pairs)
        buckets: dict[int, list[float]] = {}
        for published, latency in pairs:
            buckets.setdefault(int((published - first) / 1e9 / window), []).append(latency)
        out = []
        for index in sorted(buckets):
            values = sorted(buckets[index])
            out.append((
                index * window, len(values), values[len(values) // 2],
                values[min(len(values) - 1, int(0.99 * len(values)))], values[-1],
            ))  # fmt: skip
        return out


class ClientPool:
    """`processes` load-generator processes; connections are dealt to them round-robin."""

    def __init__(self, processes: int) -> None:
        self.count = processes
        self.clients: list[ClientProcess] = []

    async def start(self) -> ClientPool:
        for _ in range(self.count):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.wsclient", cwd=ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=1 << 30,
            )  # fmt: skip
            self.clients.append(ClientProcess(process))
        return self

    async def open(
        self,
        port: int,
        secret: str,
        conns: Sequence[dict[str, Any]],
        *,
        deflate: bool,
        parallel: int = 16,
        query: str = EVENTS_QUERY,
    ) -> dict[str, Any]:
        """Open connections (each {subs: [[tag, variables]...], never_read?}); returns the
        totals and the setup rate."""
        shares: list[list[dict[str, Any]]] = [[] for _ in self.clients]
        for i, conn in enumerate(conns):
            shares[i % len(self.clients)].append(conn)
        start = time.perf_counter()
        replies = await asyncio.gather(*(
            client.call({
                "cmd": "open", "host": "127.0.0.1", "port": port, "secret": secret,
                "query": query, "deflate": deflate, "parallel": parallel, "conns": share,
            })
            for client, share in zip(self.clients, shares, strict=True) if share
        ))  # fmt: skip
        seconds = time.perf_counter() - start
        opened = sum(r["opened"] for r in replies)
        return {
            "opened": opened,
            "failed": sum(r["failed"] for r in replies),
            "errors": [e for r in replies for e in r["errors"]][:5],
            "seconds": seconds,
            "rate": opened / seconds if seconds else 0.0,
            "ports": [p for r in replies for p in r.get("ports", [])],
        }

    async def redis(self, url: str, channels: Sequence[str]) -> None:
        await self.clients[-1].call({"cmd": "redis", "url": url, "channels": list(channels)})

    async def reset(self, *, forget_seen: bool = False, log_events: bool = False) -> None:
        await asyncio.gather(*(
            c.call({"cmd": "reset", "forget_seen": forget_seen, "log_events": log_events})
            for c in self.clients
        ))  # fmt: skip

    async def stats(self) -> Merged:
        return Merged(await asyncio.gather(*(c.call({"cmd": "stats"}) for c in self.clients)))

    def cpu_seconds(self) -> float:
        return sum(c.cpu_seconds() for c in self.clients)

    async def close(self) -> None:
        for client in self.clients:
            try:
                await client.call({"cmd": "close"}, timeout=30)
            except Exception:  # noqa: BLE001 - it is going away anyway
                pass
            try:
                await asyncio.wait_for(client.process.wait(), 10)
            except TimeoutError:
                client.process.kill()
                await client.process.wait()
        self.clients = []


def subscription(tag: str, session_id: uuid.UUID) -> list[Any]:
    return [tag, {"id": to_global_id("Session", session_id)}]


class Publisher:
    """TextDelta events published straight to Redis in the RedisBroker's wire format
    (`domain.events.encode` on the channel `REDIS_CHANNEL_PREFIX + session:<id>`), each
    carrying its publish time: `b|<n>|<monotonic_ns>|<padding>`."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(url)
        self.prefix = prefix
        self.turn_ids: dict[uuid.UUID, str] = {}
        self.counter = 0

    def channel(self, session_id: uuid.UUID) -> str:
        return self.prefix + ev.session_channel(session_id)

    def _event(self, session_id: uuid.UUID, text: str) -> str:
        turn_id = self.turn_ids.setdefault(session_id, str(uuid.uuid4()))
        return ev.encode(ev.event(ev.TEXT_DELTA, session_id, 0, turn_id=turn_id, text=text))

    async def publish(self, session_id: uuid.UUID, pad: str = "") -> int:
        """One timed event; returns how many Redis subscribers (server processes) got it."""
        self.counter += 1
        text = f"b|{self.counter}|{time.monotonic_ns()}|{pad}"
        return int(await self.redis.publish(self.channel(session_id), self._event(session_id, text)))

    async def probe(self, session_id: uuid.UUID, pad: str = "") -> int:
        """An untimed event (subscribers note that they are live; no latency sample)."""
        return int(
            await self.redis.publish(self.channel(session_id), self._event(session_id, f"p|{pad}"))
        )

    async def run(
        self, sessions: Sequence[uuid.UUID], rate: float, seconds: float, pad: str = ""
    ) -> dict[str, Any]:
        """`rate` events/s in total, round-robin over `sessions`, for `seconds`; returns
        {published, per_session, seconds, late_max} (late_max: the worst lag behind schedule)."""
        interval = 1.0 / rate
        total = max(1, round(rate * seconds))
        per_session: dict[uuid.UUID, int] = {}
        loop = asyncio.get_running_loop()
        start = loop.time()
        late_max = 0.0
        for i in range(total):
            due = start + i * interval
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late_max = max(late_max, -delay)
            session_id = sessions[i % len(sessions)]
            await self.publish(session_id, pad)
            per_session[session_id] = per_session.get(session_id, 0) + 1
        return {
            "published": total,
            "per_session": per_session,
            "seconds": loop.time() - start,
            "late_max": late_max,
        }

    async def pubsub_clients(self) -> list[dict[str, Any]]:
        """Redis's view of the pub/sub connections subscribed to this run's channels: age
        (a reconnect resets it), subscriptions, output buffer (a server not reading piles
        up there)."""
        try:
            clients = await self.redis.client_list(_type="pubsub")
        except Exception:  # noqa: BLE001 - only a diagnostic
            return []
        keep = ("id", "age", "idle", "sub", "omem", "tot-mem")
        return [{k: c.get(k) for k in keep} for c in clients if int(c.get("sub", 0) or 0) > 0]

    async def close(self) -> None:
        await self.redis.aclose()


async def wait_seen(pool: ClientPool, publisher: Publisher, sessions: Sequence[uuid.UUID],
                    expected: int, timeout: float = 180) -> float:
    """Probe every session until every subscription has received something: then all of them
    are live on the server. A new round of probes only once the last one stopped arriving, so
    a slow server never builds a backlog. Returns the seconds it took."""  # fmt: skip
    start = time.perf_counter()
    deadline = start + timeout
    while True:
        for session_id in sessions:
            await publisher.probe(session_id)
        last, still = -1, 0.0
        while still < 1.0:
            await asyncio.sleep(0.25)
            seen = (await pool.stats()).seen
            if seen >= expected:
                return time.perf_counter() - start
            still = still + 0.25 if seen == last else 0.0
            last = seen
            if time.perf_counter() > deadline:
                merged = await pool.stats()
                raise RuntimeError(
                    f"only {merged.seen} of {expected} subscriptions became live "
                    f"(errors: {merged.error_samples}, closed: {merged.closed})"
                )
