"""Suite 2, throughput: `session(id)` and the nested page over HTTP, one server process,
under a load generator in another process (wrk), at several concurrencies.

Baselines in the same run and on the same process: GET /healthz (uvicorn + Starlette alone)
and `{ __typename }` (plus auth and Strawberry, no database). Server CPU per request comes
from /proc. With --profile (default), py-spy records the server under each query afterwards
(never during the timed runs) and the suite prints where the time went.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.database import bench_database
from bench.load import LoadResult, have_wrk, run_load
from bench.machine import describe, print_machine
from bench.probe import Probe, graphql_body
from bench.profile import Recording
from bench.queries import NESTED_PAGE, SESSION_BY_ID, TYPENAME, count_fields
from bench.report import ms, ratio, table
from bench.servers import Server, running
from graphql_api.api.ids import to_global_id
from graphql_api.store.seed import insert_sessions

SUMMARY = "session(id) and the nested page over HTTP under wrk, c=1/10/50"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", default="1,10,50", help="comma-separated (1,10,50)")
    parser.add_argument("--seconds", type=float, default=6, help="per small-query run (6)")
    parser.add_argument("--nested-seconds", type=float, default=15, help="per nested-page run (15)")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--profile-seconds", type=float, default=10)
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="where py-spy's raw profiles go (a temporary directory)",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


def _measure(
    server: Server,
    args: argparse.Namespace,
    *,
    path: str,
    method: str,
    bodies: list[bytes],
    headers: dict[str, str],
    connections: int,
    seconds: float,
) -> tuple[LoadResult, float]:
    """One load run; also the server's CPU seconds per completed request."""
    server.wait_idle()
    cpu = server.cpu_seconds()
    result = run_load(
        server.url,
        path=path,
        method=method,
        bodies=bodies,
        headers=headers,
        connections=connections,
        seconds=seconds,
        tool=args.tool,
    )
    # CPU of the completed requests only: read before the server works off what is in flight
    used = server.cpu_seconds() - cpu
    if result.errors or result.timeouts:
        print(f"  warning: {result.errors} errors, {result.timeouts} timeouts at c={connections}")
    return result, used / max(result.requests, 1)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(c) for c in args.concurrency.split(",")]
    results_dir = args.results_dir or Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    results_dir.mkdir(parents=True, exist_ok=True)
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        facts["load generator"] = (
            "wrk 1 thread" if (args.tool != "python" and have_wrk()) else "python -m bench.loadgen"
        )
        print_machine(facts)
        key, secret = await bench.new_key("bench")
        ids = await insert_sessions(bench.db, key, args.sessions, args.messages)
        await bench.analyze()
        auth = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        nested_vars = {"sessions": args.sessions, "messages": args.messages}
        workloads = {
            "GET /healthz": ("GET", "/healthz", [], {}),
            "{ __typename }": ("POST", "/graphql", [graphql_body(TYPENAME)], auth),
            "session(id)": ("POST", "/graphql",
                            [graphql_body(SESSION_BY_ID, {"id": to_global_id("Session", i)}) for i in ids],
                            auth),
            "nested page": ("POST", "/graphql", [graphql_body(NESTED_PAGE, nested_vars)], auth),
        }  # fmt: skip
        rows: list[list[Any]] = []
        figures: dict[str, Any] = {}
        profiles: dict[str, str] = {}
        with running(bench.url, [None]) as (server,):
            probe = Probe(server.url, secret)
            probe.graphql(SESSION_BY_ID, {"id": to_global_id("Session", ids[0])})
            fields = count_fields(probe.graphql(NESTED_PAGE, nested_vars))
            probe.close()
            floor: dict[int, float] = {}
            for name, (method, path, bodies, headers) in workloads.items():
                nested = name == "nested page"
                seconds = args.nested_seconds if nested else args.seconds
                run_load(
                    server.url,
                    path=path,
                    method=method,
                    bodies=bodies,
                    headers=headers,
                    connections=2,
                    seconds=2,
                    tool=args.tool,
                )  # warm up
                for c in levels:
                    result, cpu = _measure(
                        server,
                        args,
                        path=path,
                        method=method,
                        bodies=bodies,
                        headers=headers,
                        connections=c,
                        seconds=seconds,
                    )
                    if name == "{ __typename }":
                        floor[c] = result.rate
                    rows.append([
                        name, c, f"{result.rate:,.1f}" if result.rate < 100 else f"{result.rate:,.0f}",
                        ms(result.p50), ms(result.p99), f"{cpu * 1000:.2f}",
                        ratio(result.rate, floor[c]) if c in floor else "-", result.requests,
                    ])  # fmt: skip
                    figures[f"{name} c={c}"] = {
                        "rps": result.rate, "p50_ms": result.p50 * 1000, "p99_ms": result.p99 * 1000,
                        "server_cpu_ms": cpu * 1000, "requests": result.requests,
                        "errors": result.errors, "timeouts": result.timeouts,
                    }  # fmt: skip
                    print(f"  {name} c={c}: {result.rate:,.1f} req/s, p50 {ms(result.p50)} ms")
            if args.profile:
                for name, c in (("nested page", 1), ("session(id)", 10)):
                    method, path, bodies, headers = workloads[name]
                    out = results_dir / f"{name.split('(')[0].replace(' ', '-')}.raw"
                    server.wait_idle()
                    recording = Recording(server.pid, args.profile_seconds, out)
                    await asyncio.sleep(0.3)
                    run_load(
                        server.url,
                        path=path,
                        method=method,
                        bodies=bodies,
                        headers=headers,
                        connections=c,
                        seconds=args.profile_seconds - 1,
                        tool=args.tool,
                    )
                    profiles[name] = recording.finish().report(f"py-spy: {name} at c={c}", top=20)

    print()
    print(table(
        ["query", "conc", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "req/s vs __typename", "requests"],
        rows,
        title="Throughput: one uvicorn process, load generator in another process",
    ))  # fmt: skip
    session_best = max(v["rps"] for k, v in figures.items() if k.startswith("session(id)"))
    nested_c1 = figures.get("nested page c=1", {})
    nested_cpu = nested_c1.get("server_cpu_ms", float("nan"))
    checks = [
        ("session(id) >= 1,000 req/s (best level)", session_best >= 1000, f"{session_best:,.0f} req/s"),
        ("nested page p50 <= 100 ms (c=1)", nested_c1.get("p50_ms", 1e9) <= 100,
         f"{nested_c1.get('p50_ms', float('nan')):.0f} ms"),
    ]  # fmt: skip
    print(
        table(["target", "met", "measured"], [[t, "yes" if ok else "NO", m] for t, ok, m in checks])
    )
    print(
        f"nested page: {fields:,} fields; server CPU per field at c=1: {nested_cpu * 1000 / fields:.1f} µs"
    )
    for text in profiles.values():
        print()
        print(text)
    if profiles:
        print(f"raw py-spy profiles (collapsed stacks): {results_dir}")
    return {
        "suite": "throughput",
        "machine": facts,
        "fields": fields,
        "results": figures,
        "targets": {t: {"met": ok, "measured": m} for t, ok, m in checks},
        "profiles": profiles,
    }
