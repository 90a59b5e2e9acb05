"""Suite 5, subscriptions: `sessionEvents` over graphql-transport-ws, events through Redis.

Events are TextDeltas published straight to Redis in the RedisBroker's wire format (see
bench/wspool.py: `domain.events.encode`, channel `REDIS_CHANNEL_PREFIX + session:<id>`), each
carrying its publish time (CLOCK_MONOTONIC, system-wide). Subscribers are `bench.wsclient`
processes: raw RFC 6455 clients that offer permessage-deflate like browsers do, answer pings,
and note each event's receipt time before parsing it.

Parts (each on a fresh server process; --parts picks them):
  a  N subscribers over M sessions, E events/s in total: delivery latency, server CPU and RSS,
     memory per idle subscription (RSS delta / N, before any event and after one each).
  m  memory per idle subscription without permessage-deflate (fewer subscribers).
  b  F subscribers on ONE session, event rate stepped up: the highest deliveries/s whose p99
     stays within 100 ms.
  c  (on b's server and subscribers) one subscriber that never reads: the others' latency
     with it against without it, at a rate b held.
  t  (not in the default) where the memory of idle subscriptions goes: tracemalloc snapshots
     of a server before and after m's subscribers connect (tracing slows it: memory only).
Same-run baseline: a redis-py subscriber in a client process, on the same channels (the Redis
hop alone, under the server's latency). py-spy records the server after the timed runs.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import gcstats
from bench.database import bench_database
from bench.machine import describe, print_machine
from bench.profile import Recording, parse
from bench.report import Samples, ms, ratio, table
from bench.servers import Server
from bench.tree import fingerprint
from bench.servers import NO_RATE_LIMITS
from bench.wspool import ClientPool, Publisher, raise_nofile, subscription, wait_seen
from graphql_api.store.seed import insert_sessions

SUMMARY = "websocket fan-out: delivery latency, rate, memory"
INCLUSIVE = (
    "graphql_api/", "graphql/", "strawberry/", "json/", "starlette/", "uvicorn/",
    "websockets/", "redis/", "sqlalchemy/", "asyncpg/",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", default="a,m,b,c", help="which parts to run (a,m,b,c)")
    parser.add_argument("--subscribers", type=int, default=5000, help="a: subscribers (5000)")
    parser.add_argument("--sessions", type=int, default=500, help="a: sessions (500)")
    parser.add_argument("--rate", type=float, default=100, help="a: events/s in total (100)")
    parser.add_argument("--seconds", type=float, default=20, help="a: timed publishing (20)")
    parser.add_argument("--memory-subscribers", type=int, default=1000, help="m: subscribers (1000)")
    parser.add_argument("--fanout-subscribers", type=int, default=1000, help="b: subscribers (1000)")
    parser.add_argument(
        "--fanout-rates", default="1,2,5,10,20", help="b: events/s steps on the one session"
    )
    parser.add_argument("--step-seconds", type=float, default=6, help="b: per step (6)")
    parser.add_argument("--slow-seconds", type=float, default=10, help="c: per measurement (10)")
    parser.add_argument("--slow-pad", type=int, default=512, help="c: bytes of text per event")
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes (4)")
    parser.add_argument("--parallel", type=int, default=16, help="handshakes in flight per process")
    parser.add_argument("--no-deflate", dest="deflate", action="store_false",
                        help="do not offer permessage-deflate (browsers do)")  # fmt: skip
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--server",
        choices=("product", "gc-tuned", "plain"),
        default="product",
        help="product: `graphql-api serve` via bench.serve with GC pauses timed (default); "
        "gc-tuned: the same, then (after start-up) gc.collect(), gc.freeze() and "
        "gc.set_threshold(--gc-threshold), a prototype; plain: `python -m graphql_api serve`",
    )
    parser.add_argument("--gc-threshold", default="", help="with --server gc-tuned, e.g. 700,10,10")
    parser.add_argument(
        "--patch",
        default="",
        help="prototypes of fixes applied in the server (bench/serve.py PATCHES), e.g. event-memo",
    )
    parser.add_argument(
        "--freeze-after-setup",
        action="store_true",
        help="with --server gc-tuned: freeze once the subscribers are live, not after start-up "
        "(what a periodic gc.freeze() in the server would do)",
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--profile-seconds", type=float, default=10)
    parser.add_argument("--results-dir", type=Path, default=None)


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


# ----------------------------------------------------------------------------- helpers


class Target:
    """One server process under test, with its CPU, RSS and GC figures."""

    def __init__(
        self, database_url: str, args: argparse.Namespace, prefix: str, limit: int, trace: bool = False
    ) -> None:
        self.args = args
        self.gc_path: Path | None = None
        env = {
            "REDIS_URL": args.redis_url,
            "REDIS_CHANNEL_PREFIX": prefix,
            "SUBSCRIPTIONS_PER_KEY": str(limit),
            "AGENT_BACKEND": "demo",
            "WORKSPACE_ROOT": tempfile.mkdtemp(prefix="bench-subs-ws-"),
            **NO_RATE_LIMITS,
        }
        variant = None if args.server == "plain" else "product"
        if variant:
            self.gc_path = gcstats.log_path(uuid.uuid4().hex[:6])
            env["BENCH_GC_LOG"] = str(self.gc_path)
            if args.gc_threshold:
                env["BENCH_GC_THRESHOLD"] = args.gc_threshold
            if trace:
                env["BENCH_TRACEMALLOC"] = "12"
            if args.patch:
                env["BENCH_PATCH"] = args.patch
        self.server = Server(database_url, variant=variant, env=env)

    def start(self) -> Target:
        self.server.start()
        if not self.args.freeze_after_setup:
            self.freeze()
        return self

    def freeze(self) -> None:
        """gc-tuned only: gc.collect(); gc.freeze() (and the thresholds) in the server now."""
        if self.args.server != "gc-tuned":
            return
        import os
        import signal

        os.kill(self.server.pid, signal.SIGUSR2)
        time.sleep(1.0)

    def setup_done(self) -> None:
        if self.args.freeze_after_setup:
            self.freeze()

    def warnings(self) -> list[str]:
        """The server's log lines at WARNING or above (it runs with LOG_LEVEL=WARNING)."""
        return [line for line in self.server.log().splitlines() if "WARNING" in line or "ERROR" in line]

    def gc(self) -> dict[str, Any] | None:
        if self.gc_path is None:
            return None
        return gcstats.snapshot(self.server.pid, self.gc_path)

    def stop(self) -> None:
        self.server.stop()
        if self.gc_path is not None:
            self.gc_path.unlink(missing_ok=True)
            for snap in self.gc_path.parent.glob(self.gc_path.name + ".*.snap"):
                snap.unlink(missing_ok=True)


async def _idle(server: Server) -> None:
    await asyncio.to_thread(server.wait_idle, 120.0, 1.0)


async def _drain(pool: ClientPool, expected: int, timeout: float = 10.0) -> None:
    """Until every expected delivery arrived, or nothing new came for a second."""
    deadline = time.monotonic() + timeout
    last, still = -1, 0.0
    while time.monotonic() < deadline:
        received = (await pool.stats()).received
        if received >= expected:
            return
        if received == last:
            still += 0.25
            if still >= 1.0:
                return
        else:
            still = 0.0
        last = received
        await asyncio.sleep(0.25)


async def _timed(
    target: Target,
    pool: ClientPool,
    publisher: Publisher,
    sessions: list[uuid.UUID],
    subscribers_of: dict[uuid.UUID, int],
    rate: float,
    seconds: float,
    pad: str = "",
) -> dict[str, Any]:
    """Publish `rate` events/s for `seconds`; latency, delivery, server CPU and RSS."""
    server = target.server
    await pool.reset()
    gc_before = target.gc()
    cpu0, client_cpu0, wall0 = server.cpu_seconds(), pool.cpu_seconds(), time.perf_counter()
    rss_peak = server.rss_mib()

    async def watch_rss() -> None:
        nonlocal rss_peak
        while True:
            await asyncio.sleep(0.5)
            rss_peak = max(rss_peak, server.rss_mib())

    watcher = asyncio.create_task(watch_rss())
    pubsub_before = await publisher.pubsub_clients()
    try:
        published = await publisher.run(sessions, rate, seconds, pad)
        cpu1, client_cpu1, wall1 = server.cpu_seconds(), pool.cpu_seconds(), time.perf_counter()
        expected = sum(n * subscribers_of[s] for s, n in published["per_session"].items())
        await _drain(pool, expected)
    finally:
        watcher.cancel()
    merged = await pool.stats()
    pubsub_after = await publisher.pubsub_clients()
    gc_window = gcstats.window(gc_before, target.gc())
    latencies = Samples(merged.latencies())
    redis = Samples(merged.latencies("redis_lat_us"))
    elapsed = wall1 - wall0
    return {
        "rate": rate,
        "published": published["published"],
        "publisher_late_max_ms": published["late_max"] * 1000,
        "expected": expected,
        "received": merged.received,
        "delivered": merged.received / expected if expected else float("nan"),
        # deliveries the schedule asked for per second (events/s x their subscribers)
        "offered_per_s": expected / (published["published"] / rate),
        "p50": latencies.p50,
        "p99": latencies.p99,
        "max": max(latencies.values, default=float("nan")),
        "redis_p50": redis.p50,
        "redis_p99": redis.p99,
        "server_cpu": (cpu1 - cpu0) / elapsed,
        "server_cpu_us_per_delivery": (cpu1 - cpu0) / max(merged.received, 1) * 1e6,
        "client_cpu": (client_cpu1 - client_cpu0) / elapsed,
        "rss_peak_mib": rss_peak,
        "errors": merged.errors,
        "error_samples": merged.error_samples,
        "closed": merged.closed,
        "gc": gc_window,
        "timeline": merged.timeline(max(1.0, seconds / 10)),
        "redis_pubsub_clients": {"before": pubsub_before, "after": pubsub_after},
    }


def _row(name: str, r: dict[str, Any], base_p99: float | None = None) -> list[Any]:
    return [
        name, f"{r['offered_per_s']:,.0f}", f"{r['delivered']:.1%}", ms(r["p50"]), ms(r["p99"]),
        ms(r["max"]), ms(r["redis_p50"]), ms(r["redis_p99"]), ratio(r["p99"], r["redis_p99"]),
        "-" if base_p99 is None else ratio(r["p99"], base_p99),
        f"{r['server_cpu']:.0%}", f"{r['server_cpu_us_per_delivery']:.0f}",
        f"{r['client_cpu']:.0%}", f"{r['rss_peak_mib']:.0f}",
        "-" if not r["gc"] else f"{r['gc']['max_s'] * 1000:.0f}",
    ]  # fmt: skip


HEADERS = [
    "run", "deliveries/s", "delivered", "p50 ms", "p99 ms", "max ms", "redis p50", "redis p99",
    "p99 vs redis", "p99 vs base", "server CPU", "CPU µs/delivery", "clients CPU", "RSS MiB",
    "worst GC ms",
]  # fmt: skip


async def _profile(
    target: Target,
    publisher: Publisher,
    sessions: list[uuid.UUID],
    rate: float,
    seconds: float,
    out: Path,
    title: str,
) -> str:
    await _idle(target.server)
    recording = Recording(target.server.pid, seconds, out)
    await asyncio.sleep(0.3)
    await publisher.run(sessions, rate, seconds - 1)
    await asyncio.to_thread(recording.finish)
    return parse(out, INCLUSIVE).report(title, top=20)


def _ss_send_queue(server_port: int, client_port: int) -> str:
    """The server socket's kernel queues towards one client (`ss`), e.g. 'Recv-Q 0 Send-Q 2.6M'."""
    try:
        out = subprocess.run(
            ["ss", "-tnH", "state", "established", f"( sport = :{server_port} and dport = :{client_port} )"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.split()  # fmt: skip
    except OSError:
        return "ss unavailable"
    if len(out) < 2:
        return "no such connection (closed?)"
    return f"Recv-Q {out[0]} Send-Q {int(out[1]):,} bytes"


# ----------------------------------------------------------------------------- parts


async def _part_a(
    bench: Any, args: argparse.Namespace, secret: str, ids: list[uuid.UUID], prefix: str,
    publisher: Publisher, results_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    n, m = args.subscribers, args.sessions
    sessions = ids[:m]
    target = Target(bench.url, args, prefix, limit=n * 2 + 100).start()
    server = target.server
    pool = await ClientPool(args.clients).start()
    try:
        # warm-up: imports, caches, the Redis pub/sub connection, a first delivery
        warm = await ClientPool(1).start()
        await warm.open(server.port, secret, [{"subs": [subscription(f"w{i}", s)]} for i, s in enumerate(sessions[:20])], deflate=args.deflate)  # fmt: skip
        await wait_seen(warm, publisher, sessions[:20], 20)
        await warm.close()
        await _idle(server)
        rss0 = server.rss_mib()
        gc0 = target.gc()
        conns = [{"subs": [subscription(f"a{i}", sessions[i % m])]} for i in range(n)]
        setup = await pool.open(server.port, secret, conns, deflate=args.deflate, parallel=args.parallel)
        print(f"  a: {setup['opened']:,} subscribers open in {setup['seconds']:.1f} s "
              f"({setup['rate']:.0f}/s), {setup['failed']} failed {setup['errors'][:2]}")  # fmt: skip
        await _idle(server)
        rss_idle = server.rss_mib()
        live_s = await wait_seen(pool, publisher, sessions, setup["opened"])
        await _idle(server)
        rss_live = server.rss_mib()
        target.setup_done()
        gc_setup = gcstats.window(gc0, target.gc())
        subscribers_of: dict[uuid.UUID, int] = {}
        for i in range(n):
            subscribers_of[sessions[i % m]] = subscribers_of.get(sessions[i % m], 0) + 1
        await pool.redis(args.redis_url, [publisher.channel(s) for s in sessions])
        await _idle(server)
        timed = await _timed(target, pool, publisher, sessions, subscribers_of, args.rate, args.seconds)
        print(f"  a: {args.rate:g} events/s: p50 {ms(timed['p50'])} ms, p99 {ms(timed['p99'])} ms")
        profile = None
        if args.profile:
            profile = await _profile(
                target, publisher, sessions, args.rate, args.profile_seconds,
                results_dir / "subscriptions-a.raw",
                f"py-spy: part a, {n:,} subscribers, {args.rate:g} events/s",
            )  # fmt: skip
    finally:
        await pool.close()
        warnings = target.warnings()
        target.stop()
    per_sub_idle = (rss_idle - rss0) * 1024 / max(setup["opened"], 1)
    per_sub_live = (rss_live - rss0) * 1024 / max(setup["opened"], 1)
    return {
        "subscribers": setup["opened"], "sessions": m, "setup": setup, "live_after_s": live_s,
        "rss_before_mib": rss0, "rss_idle_mib": rss_idle, "rss_live_mib": rss_live,
        "kb_per_idle_subscription": per_sub_idle, "kb_per_subscription_after_event": per_sub_live,
        "gc_during_setup": gc_setup, "timed": timed, "profile": profile,
        "server_warnings": warnings,
    }  # fmt: skip


async def _part_m(
    bench: Any, args: argparse.Namespace, secret: str, ids: list[uuid.UUID], prefix: str,
    publisher: Publisher,
) -> dict[str, Any]:  # fmt: skip
    """Memory per idle subscription without and with permessage-deflate, each on a fresh
    server (memory a process freed is reused, so a second measurement on the same one would
    read low)."""
    n = args.memory_subscribers
    sessions = ids[: min(len(ids), 100)]
    out: dict[str, Any] = {"subscribers": n, "server_warnings": []}
    for deflate in (False, True):
        target = Target(bench.url, args, prefix, limit=2 * n + 100).start()
        server = target.server
        pool = await ClientPool(args.clients).start()
        try:
            warm = await ClientPool(1).start()
            await warm.open(server.port, secret, [{"subs": [subscription(f"w{i}", s)]} for i, s in enumerate(sessions[:10])], deflate=deflate)  # fmt: skip
            await wait_seen(warm, publisher, sessions[:10], 10)
            await warm.close()
            await _idle(server)
            rss0 = server.rss_mib()
            conns = [{"subs": [subscription(f"m{i}", sessions[i % len(sessions)])]} for i in range(n)]
            setup = await pool.open(server.port, secret, conns, deflate=deflate, parallel=args.parallel)
            await _idle(server)
            rss_idle = server.rss_mib()
            await wait_seen(pool, publisher, sessions, setup["opened"])
            await _idle(server)
            rss_live = server.rss_mib()
        finally:
            await pool.close()
            out["server_warnings"] += target.warnings()
            target.stop()
        name = "deflate" if deflate else "no_deflate"
        out[name] = {
            "opened": setup["opened"],
            "kb_per_idle_subscription": (rss_idle - rss0) * 1024 / max(setup["opened"], 1),
            "kb_per_subscription_after_event": (rss_live - rss0) * 1024 / max(setup["opened"], 1),
        }
        print(f"  m: {name}: {out[name]['kb_per_idle_subscription']:.1f} KB idle, "
              f"{out[name]['kb_per_subscription_after_event']:.1f} KB after one event")  # fmt: skip
    return out


async def _part_t(
    bench: Any, args: argparse.Namespace, secret: str, ids: list[uuid.UUID], prefix: str,
    publisher: Publisher,
) -> dict[str, Any]:  # fmt: skip
    """tracemalloc growth of idle subscriptions, and after one event each."""
    n = args.memory_subscribers
    sessions = ids[: min(len(ids), 100)]
    target = Target(bench.url, args, prefix, limit=2 * n + 100, trace=True).start()
    server = target.server
    assert target.gc_path is not None
    out: dict[str, Any] = {"subscribers": n, "deflate": args.deflate}
    pool = await ClientPool(args.clients).start()
    try:
        warm = await ClientPool(1).start()
        await warm.open(server.port, secret, [{"subs": [subscription(f"w{i}", s)]} for i, s in enumerate(sessions[:10])], deflate=args.deflate)  # fmt: skip
        await wait_seen(warm, publisher, sessions[:10], 10)
        await warm.close()
        await _idle(server)
        snap0 = await asyncio.to_thread(gcstats.allocation_snapshot, server.pid, target.gc_path, 0)
        conns = [{"subs": [subscription(f"t{i}", sessions[i % len(sessions)])]} for i in range(n)]
        setup = await pool.open(server.port, secret, conns, deflate=args.deflate, parallel=args.parallel)
        await _idle(server)
        snap1 = await asyncio.to_thread(gcstats.allocation_snapshot, server.pid, target.gc_path, 1)
        await wait_seen(pool, publisher, sessions, setup["opened"])
        await _idle(server)
        snap2 = await asyncio.to_thread(gcstats.allocation_snapshot, server.pid, target.gc_path, 2)
        # then many events: does anything grow per delivery?
        rss2 = server.rss_mib()
        subscribers_of = {s: 0 for s in sessions}
        for i in range(n):
            subscribers_of[sessions[i % len(sessions)]] += 1
        flood = await _timed(target, pool, publisher, sessions, subscribers_of, 100, 10)
        await _idle(server)
        rss3 = server.rss_mib()
        snap3 = await asyncio.to_thread(gcstats.allocation_snapshot, server.pid, target.gc_path, 3)
        if snap0 and snap1 and snap2 and snap3:
            out["idle"] = await asyncio.to_thread(gcstats.allocation_growth, snap0, snap1, setup["opened"])
            out["after_event"] = await asyncio.to_thread(gcstats.allocation_growth, snap1, snap2, setup["opened"])
            out["per_delivery"] = await asyncio.to_thread(
                gcstats.allocation_growth, snap2, snap3, max(flood["received"], 1), "delivery"
            )
        out["opened"] = setup["opened"]
        out["deliveries"] = flood["received"]
        out["rss_growth_per_delivery_kb"] = (rss3 - rss2) * 1024 / max(flood["received"], 1)
    finally:
        await pool.close()
        target.stop()
    return out


async def _part_bc(
    bench: Any, args: argparse.Namespace, secret: str, ids: list[uuid.UUID], prefix: str,
    publisher: Publisher, results_dir: Path, parts: set[str],
) -> dict[str, Any]:  # fmt: skip
    f = args.fanout_subscribers
    hot, filler = ids[0], ids[1]
    target = Target(bench.url, args, prefix, limit=f * 2 + 100).start()
    server = target.server
    pool = await ClientPool(args.clients).start()
    out: dict[str, Any] = {"subscribers": f}
    try:
        setup = await pool.open(
            server.port, secret, [{"subs": [subscription(f"b{i}", hot)]} for i in range(f)],
            deflate=args.deflate, parallel=args.parallel,
        )  # fmt: skip
        print(f"  b: {setup['opened']:,} subscribers on one session in {setup['seconds']:.1f} s")
        await wait_seen(pool, publisher, [hot], setup["opened"])
        target.setup_done()
        await pool.redis(args.redis_url, [publisher.channel(hot)])
        subscribers_of = {hot: setup["opened"]}
        steps: list[dict[str, Any]] = []
        held: dict[str, Any] | None = None
        if "b" in parts:
            for rate in [float(x) for x in args.fanout_rates.split(",")]:
                await _idle(server)
                step = await _timed(target, pool, publisher, [hot], subscribers_of, rate, args.step_seconds)
                step["held"] = step["p99"] <= 0.100 and step["delivered"] >= 0.99
                steps.append(step)
                print(f"  b: {rate:g} events/s = {step['offered_per_s']:,.0f} deliveries/s: "
                      f"p99 {ms(step['p99'])} ms, delivered {step['delivered']:.1%}"
                      f"{' (held)' if step['held'] else ''}")  # fmt: skip
                if step["held"]:
                    held = step
                if step["p99"] > 1.0 or step["delivered"] < 0.9:
                    break  # saturated: higher rates only pile up a backlog
            out["steps"] = steps
            out["held"] = held
            if args.profile:
                top = steps[-1]
                out["profile"] = await _profile(
                    target, publisher, [hot], top["rate"], args.profile_seconds,
                    results_dir / "subscriptions-b.raw",
                    f"py-spy: part b, {f:,} subscribers on one session, {top['rate']:g} events/s",
                )  # fmt: skip
        if "c" in parts:
            rates = [float(x) for x in args.fanout_rates.split(",")]
            rate = held["rate"] if held else min(rates)
            pad = "x" * args.slow_pad
            await _idle(server)
            base = await _timed(target, pool, publisher, [hot], subscribers_of, rate, args.slow_seconds, pad)
            rss_base = server.rss_mib()
            # one connection that never reads, subscribed to the hot session and to a filler
            # session whose burst of big events fills its socket at once
            slow = await ClientPool(1).start()
            try:
                opened = await slow.open(
                    server.port, secret,
                    [{"subs": [subscription("slow-hot", hot), subscription("slow-fill", filler)], "never_read": True}],
                    deflate=args.deflate,
                )  # fmt: skip
                await asyncio.sleep(1.0)
                for _ in range(64):
                    await publisher.probe(filler, "y" * 32768)
                await asyncio.sleep(1.0)
                stuck = await slow.clients[0].call({"cmd": "stats"})
                with_slow = await _timed(
                    target, pool, publisher, [hot], subscribers_of, rate, args.slow_seconds, pad
                )  # fmt: skip
                rss_slow = server.rss_mib()
                queues = await asyncio.to_thread(
                    _ss_send_queue, server.port, opened.get("ports", [0])[0] if opened.get("ports") else 0
                )
            finally:
                await slow.close()
            out["slow"] = {
                "rate": rate, "pad": args.slow_pad, "without": base, "with": with_slow,
                "rss_without_mib": rss_base, "rss_with_mib": rss_slow,
                "never_reader_open": stuck.get("open"), "server_socket": queues,
            }  # fmt: skip
            print(f"  c: p99 without {ms(base['p99'])} ms, with a never-reading subscriber "
                  f"{ms(with_slow['p99'])} ms")  # fmt: skip
    finally:
        await pool.close()
        out["server_warnings"] = target.warnings()
        target.stop()
    return out


# ----------------------------------------------------------------------------- the suite


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    parts = set(args.parts.split(","))
    nofile = raise_nofile(max(args.subscribers, args.fanout_subscribers) + 2000)
    results_dir = args.results_dir or Path(tempfile.mkdtemp(prefix="bench-subscriptions-"))
    results_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    figures: dict[str, Any] = {"suite": "subscriptions"}
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        facts["load generator"] = (
            f"{args.clients} x python -m bench.wsclient (raw RFC 6455, uvloop), "
            f"permessage-deflate {'offered' if args.deflate else 'not offered'}; "
            "publisher: redis-py in the suite process"
        )
        facts["server"] = {
            "product": "graphql-api serve via bench.serve (GC pauses timed)",
            "gc-tuned": "graphql-api serve via bench.serve, then gc.collect(); gc.freeze()"
            + (f"; gc.set_threshold({args.gc_threshold})" if args.gc_threshold else ""),
            "plain": "python -m graphql_api serve",
        }[args.server]
        facts["open files limit"] = str(nofile)
        if args.patch:
            facts["server"] += f"; prototype patches: {args.patch}"
        facts["server code"] = fingerprint()
        print_machine(facts)
        figures["machine"] = facts
        key, secret = await bench.new_key("bench-subscriptions")
        ids = await insert_sessions(bench.db, key, max(args.sessions, 100), 0, fork_every=0)
        await bench.analyze()
        publisher = Publisher(args.redis_url, prefix)
        try:
            if "a" in parts:
                figures["a"] = await _part_a(bench, args, secret, ids, prefix, publisher, results_dir)
            if "m" in parts:
                figures["m"] = await _part_m(bench, args, secret, ids, prefix, publisher)
            if "t" in parts:
                figures["t"] = await _part_t(bench, args, secret, ids, prefix, publisher)
            if parts & {"b", "c"}:
                figures["bc"] = await _part_bc(
                    bench, args, secret, ids, prefix, publisher, results_dir, parts
                )
        finally:
            await publisher.close()
    _print(figures, args)
    print(f"raw py-spy profiles (collapsed stacks): {results_dir}")
    return figures


def _print(figures: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    rows: list[list[Any]] = []
    checks: list[tuple[str, bool, str]] = []
    a = figures.get("a")
    if a:
        t = a["timed"]
        rows.append(_row(f"a: {a['subscribers']:,} subs / {a['sessions']} sessions, {t['rate']:g} ev/s", t))
    bc = figures.get("bc") or {}
    for step in bc.get("steps", []):
        rows.append(_row(f"b: {bc['subscribers']:,} subs / 1 session, {step['rate']:g} ev/s", step))
    slow = bc.get("slow")
    if slow:
        rows.append(_row(f"c: without never-reader, {slow['rate']:g} ev/s", slow["without"]))
        rows.append(_row(f"c: with one never-reader, {slow['rate']:g} ev/s", slow["with"], slow["without"]["p99"]))
    if rows:
        print(table(HEADERS, rows, title="Subscriptions: one server process, Redis broker; latency = Redis publish -> client receipt"))  # fmt: skip
    if a:
        setup = a["setup"]
        print(table(
            ["memory (server RSS)", "MiB", "KB per subscription"],
            [
                ["before subscribers (after warm-up)", f"{a['rss_before_mib']:.0f}", "-"],
                [f"{a['subscribers']:,} idle subscriptions, no event yet", f"{a['rss_idle_mib']:.0f}", f"{a['kb_per_idle_subscription']:.1f}"],
                ["... after one event each", f"{a['rss_live_mib']:.0f}", f"{a['kb_per_subscription_after_event']:.1f}"],
                [f"peak while publishing {a['timed']['rate']:g} ev/s", f"{a['timed']['rss_peak_mib']:.0f}", "-"],
            ],
            title=f"a: setup {setup['opened']:,} subscribers in {setup['seconds']:.1f} s ({setup['rate']:.0f}/s), "
            f"{setup['failed']} failed; all live after probes in {a['live_after_s']:.1f} s",
        ))  # fmt: skip
        print(table(
            ["publish time s", "deliveries", "p50 ms", "p99 ms", "max ms"],
            [[f"{t:.0f}", n, ms(p50), ms(p99), ms(mx)] for t, n, p50, p99, mx in a["timed"]["timeline"]],
            title="a: latency over the timed run, by publish time",
        ))  # fmt: skip
        print("a: GC during the timed run: " + gcstats.describe(a["timed"]["gc"]))
        print("a: GC while the subscribers connected: " + gcstats.describe(a["gc_during_setup"]))
        print()
        checks.append(("a: p99 <= 100 ms", a["timed"]["p99"] <= 0.100, f"{ms(a['timed']['p99'])} ms"))
        checks.append(("a: <= 50 KB per idle subscription", a["kb_per_idle_subscription"] <= 50,
                       f"{a['kb_per_idle_subscription']:.1f} KB idle, {a['kb_per_subscription_after_event']:.1f} KB after one event"))  # fmt: skip
    mem = figures.get("m")
    if mem:
        print(table(
            ["permessage-deflate", "subscribers", "KB per idle subscription", "after one event"],
            [[name.replace("_", "-"), mem[name]["opened"], f"{mem[name]['kb_per_idle_subscription']:.1f}",
              f"{mem[name]['kb_per_subscription_after_event']:.1f}"]
             for name in ("no_deflate", "deflate") if name in mem],
            title="m: memory per subscription (server RSS delta / subscribers), a fresh server each",
        ))  # fmt: skip
    traced = figures.get("t")
    if traced and traced.get("idle"):
        print(f"t: {traced['opened']:,} idle subscriptions (permessage-deflate "
              f"{'offered' if traced['deflate'] else 'not offered'}), tracemalloc growth:")
        print(traced["idle"])
        print("t: ... and what one event each added on top:")
        print(traced["after_event"])
        print(f"t: then {traced['deliveries']:,} deliveries: server RSS grew "
              f"{traced['rss_growth_per_delivery_kb']:.2f} KB per delivery; tracemalloc:")
        print(traced["per_delivery"])
    if bc.get("steps") is not None:
        held = bc.get("held")
        best = held["offered_per_s"] if held else 0.0
        sustained = [x for x in bc["steps"] if x["delivered"] >= 0.99 and x["p99"] < 1.0]
        top_sustained = max((x["offered_per_s"] for x in sustained), default=0.0)
        first = bc["steps"][0]
        print(
            f"b: one event reaches all {bc['subscribers']:,} subscribers in p50 {ms(first['p50'])} / "
            f"p99 {ms(first['p99'])} / max {ms(first['max'])} ms at {first['rate']:g} ev/s; highest rate "
            f"kept up with (>= 99% delivered, p99 < 1 s): {top_sustained:,.0f} deliveries/s; "
            f"server CPU {first['server_cpu_us_per_delivery']:.0f} µs per delivery"
        )
        print()
        checks.append(("b: >= 10,000 deliveries/s with p99 <= 100 ms", best >= 10000,
                       f"{best:,.0f} deliveries/s" if held else
                       f"none held (lowest step p99 {ms(bc['steps'][0]['p99'])} ms)"))  # fmt: skip
        top = bc["steps"][-1]
        if top.get("gc"):
            print(f"b: GC during the top step ({top['rate']:g} ev/s): " + gcstats.describe(top["gc"]))
            print()
    if slow:
        print(
            f"c: the never-reader's server socket during the run: {slow['server_socket']}; "
            f"server RSS {slow['rss_without_mib']:.0f} -> {slow['rss_with_mib']:.0f} MiB"
        )
        checks.append(("c: others' p99 with a never-reader (vs without)", slow["with"]["p99"] <= max(slow["without"]["p99"] * 1.2, 0.1),
                       f"{ms(slow['with']['p99'])} vs {ms(slow['without']['p99'])} ms = {ratio(slow['with']['p99'], slow['without']['p99'])}"))  # fmt: skip
    if checks:
        print(table(["target", "met", "measured"], [[t, "yes" if ok else "NO", m] for t, ok, m in checks]))
    for name, part in (("a", a), ("m", mem), ("b/c", bc)):
        if part and part.get("server_warnings"):
            lines = part["server_warnings"]
            print(f"{name}: the server logged {len(lines)} warnings/errors, e.g.:")
            for line in lines[:3]:
                print(f"  {line[:300]}")
            print()
    for name, part in (("a", a), ("b", bc)):
        if part and part.get("profile"):
            print(part["profile"])
            print()
