"""A/B: the same queries against two checkouts of the server (this one and another, e.g. a
prototype of an optimization), on one database, requests interleaved, in one run.

Both servers must answer byte-for-byte the same data: a change that alters a response is
reported as a failure, not a speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bench.database import bench_database
from bench.load import run_load
from bench.machine import describe, print_machine
from bench.probe import Probe, graphql_body
from bench.queries import NESTED_PAGE, SESSION_BY_ID
from bench.report import Samples, ms, ratio, table
from bench.servers import ROOT, Server
from graphql_api.api.ids import to_global_id
from graphql_api.store.seed import insert_sessions

SUMMARY = "this checkout against another (--b PATH): latency, CPU and req/s, interleaved"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--a", type=Path, default=ROOT, help="checkout A (this one)")
    parser.add_argument("--b", type=Path, required=True, help="checkout B")
    parser.add_argument("--nested-requests", type=int, default=30)
    parser.add_argument("--small-requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5, help="per wrk run of session(id) (5)")
    parser.add_argument("--concurrency", type=int, default=10, help="of the wrk runs (10)")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs per server, alternated")


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


def _interleaved(
    servers: list[Server], probes: list[Probe], body: bytes, n: int
) -> list[tuple[Samples, float]]:
    values: list[list[float]] = [[] for _ in servers]
    cpu = [0.0 for _ in servers]
    for probe in probes:
        probe.time("POST", "/graphql", body, n=0, warmup=3)
    for _ in range(n):
        for i, (server, probe) in enumerate(zip(servers, probes, strict=True)):
            before = server.cpu_seconds()
            values[i].append(probe.time_once("POST", "/graphql", body))
            cpu[i] += server.cpu_seconds() - before
    return [(Samples(v), c / n) for v, c in zip(values, cpu, strict=True)]


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        facts["A"] = str(args.a)
        facts["B"] = str(args.b)
        print_machine(facts)
        key, secret = await bench.new_key("bench")
        ids = await insert_sessions(bench.db, key, 50, 20)
        await bench.analyze()
        servers = [
            Server(bench.url, root=args.a.resolve()),
            Server(bench.url, root=args.b.resolve()),
        ]
        try:
            for server in servers:
                server.start()
            probes = [Probe(s.url, secret) for s in servers]
            nested_vars = {"sessions": 50, "messages": 20}
            one = {"id": to_global_id("Session", ids[0])}
            answers = [
                [p.graphql(NESTED_PAGE, nested_vars), p.graphql(SESSION_BY_ID, one)] for p in probes
            ]
            same = answers[0] == answers[1]
            nested = _interleaved(
                servers, probes, graphql_body(NESTED_PAGE, nested_vars), args.nested_requests
            )
            small = _interleaved(
                servers, probes, graphql_body(SESSION_BY_ID, one), args.small_requests
            )
            for p in probes:
                p.close()
            bodies = [graphql_body(SESSION_BY_ID, {"id": to_global_id("Session", i)}) for i in ids]
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            rates: list[list[float]] = [[], []]
            for _ in range(args.rounds):
                for i, server in enumerate(servers):
                    server.wait_idle()
                    result = run_load(
                        server.url,
                        path="/graphql",
                        method="POST",
                        bodies=bodies,
                        headers=headers,
                        connections=args.concurrency,
                        seconds=args.seconds,
                    )
                    rates[i].append(result.rate)
        finally:
            for server in servers:
                server.stop()

    rows = []
    for name, pair in (("nested page", nested), ("session(id)", small)):
        (sa, ca), (sb, cb) = pair
        rows.append([name, "p50 ms", ms(sa.p50), ms(sb.p50), ratio(sb.p50, sa.p50)])
        rows.append([name, "p99 ms", ms(sa.p99), ms(sb.p99), ratio(sb.p99, sa.p99)])
        rows.append(
            [name, "server CPU ms/req", f"{ca * 1000:.2f}", f"{cb * 1000:.2f}", ratio(cb, ca)]
        )
    best = [max(r) for r in rates]
    rows.append(
        [
            f"session(id) wrk c={args.concurrency}",
            "req/s (best run)",
            f"{best[0]:,.0f}",
            f"{best[1]:,.0f}",
            ratio(best[1], best[0]),
        ]
    )
    print(
        table(
            ["query", "measure", "A", "B", "B / A"],
            rows,
            title="A/B, requests interleaved between the two servers",
        )
    )
    print("responses identical:", "yes" if same else "NO - B changes the answers")
    return {"suite": "ab", "machine": facts, "same_answers": same, "rows": rows}
