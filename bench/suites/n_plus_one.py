"""Suite 1, N+1: the nested page (sessions x messages, with turns, checkpoints, parent, forks).

Ours (DataLoaders, one windowed statement per level) against the baselines in bench/naive.py
(one statement per parent, as lazy loading does), on the same database in the same run.
Statements are counted in-process with a SQLAlchemy listener on the same app code; latency
is measured over HTTP against uvicorn processes, requests interleaved between the servers.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bench.database import bench_database
from bench.inprocess import bench_services, client, graphql
from bench.machine import describe, print_machine
from bench.naive import build_app
from bench.probe import Probe, graphql_body
from bench.queries import NESTED_PAGE, count_fields
from bench.report import Samples, ms, ratio, table
from bench.servers import running
from graphql_api.app import create_app
from graphql_api.store.seed import insert_sessions

SUMMARY = "nested page: SQL statements and latency vs per-parent loading"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=int, default=50, help="sessions on the page (50)")
    parser.add_argument("--messages", type=int, default=20, help="messages per session (20)")
    parser.add_argument(
        "--other-sessions",
        type=int,
        default=200,
        help="sessions of another key in the same tables (200)",
    )
    parser.add_argument("--requests", type=int, default=30, help="timed requests per server (30)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        print_machine(facts)
        key, secret = await bench.new_key("bench")
        other, _ = await bench.new_key("other")
        await insert_sessions(bench.db, key, args.sessions, args.messages, fork_every=5)
        if args.other_sessions:
            await insert_sessions(bench.db, other, args.other_sessions, args.messages)
        await bench.analyze()
        variables = {"sessions": args.sessions, "messages": args.messages}
        small = {"sessions": max(1, args.sessions // 5), "messages": max(1, args.messages // 4)}
        rest_path = f"/rest/sessions?limit={args.sessions}&messages={args.messages}"
        rest_small = f"/rest/sessions?limit={small['sessions']}&messages={small['messages']}"

        # Statements, counted in-process on the same app code.
        counts: dict[str, tuple[int, int]] = {}
        async with bench_services(bench.url) as (services, counter):
            ours_http = client(create_app(services=services), secret)
            naive_http = client(build_app(services), secret)
            async with ours_http, naive_http:
                for http in (ours_http, naive_http):
                    await graphql(http, "{ viewer { sessionCount } }", {})
                    await (await http.get(rest_small)).aread() if http is naive_http else None
                await services.api_keys.flush()
                results = {}
                for name, http in (("ours", ours_http), ("naive-graphql", naive_http)):
                    with counter:
                        results[name] = await graphql(http, NESTED_PAGE, variables)
                    big = len(counter)
                    with counter:
                        await graphql(http, NESTED_PAGE, small)
                    counts[name] = (big, len(counter))
                with counter:
                    rest_body = (await naive_http.get(rest_path)).json()
                big = len(counter)
                with counter:
                    (await naive_http.get(rest_small)).json()
                counts["naive-rest"] = (big, len(counter))
        if results["ours"] != results["naive-graphql"]:
            raise RuntimeError("the naive GraphQL baseline answered differently from ours")
        edges = results["ours"]["sessions"]["edges"]
        fields = count_fields(results["ours"])
        rest_messages = sum(len(s["messages"]) for s in rest_body)
        assert len(rest_body) == len(edges)
        assert rest_messages == sum(len(e["node"]["messages"]["edges"]) for e in edges)

        # Latency over HTTP, interleaved so drift hits every server alike.
        samples: dict[str, list[float]] = {"ours": [], "naive-graphql": [], "naive-rest": []}
        sizes: dict[str, int] = {}
        with running(bench.url, [None, "naive"]) as (ours, naive):
            probes = {
                "ours": (Probe(ours.url, secret), "POST", "/graphql", graphql_body(NESTED_PAGE, variables)),
                "naive-graphql": (Probe(naive.url, secret), "POST", "/graphql", graphql_body(NESTED_PAGE, variables)),
                "naive-rest": (Probe(naive.url, secret), "GET", rest_path, None),
            }  # fmt: skip
            for name, (probe, method, path, body) in probes.items():
                probe.time(method, path, body, n=0, warmup=3)
                sizes[name] = len(probe.raw(method, path, body)[1])
            for _ in range(args.requests):
                for name, (probe, method, path, body) in probes.items():
                    samples[name].append(probe.time_once(method, path, body))
            for probe, *_ in probes.values():
                probe.close()

    stats = {name: Samples(values) for name, values in samples.items()}
    base = stats["ours"].p50
    rows = []
    for name in ("ours", "naive-graphql", "naive-rest"):
        big, little = counts[name]
        rows.append([
            name, big, little, ratio(big, counts["ours"][0]), ms(stats[name].p50),
            ms(stats[name].p99), ratio(stats[name].p50, base), f"{sizes[name]:,}",
        ])  # fmt: skip
    page = f"{args.sessions}x{args.messages}"
    print(table(
        ["server", f"stmts {page}", f"stmts {small['sessions']}x{small['messages']}",
         "stmts vs ours", "p50 ms", "p99 ms", "p50 vs ours", "bytes"],
        rows,
        title=f"N+1: nested page {page} ({len(edges)} sessions, {fields:,} fields), "
        f"{args.requests} sequential requests each over HTTP, interleaved",
    ))  # fmt: skip
    ours_stmts, naive_stmts = counts["ours"][0], counts["naive-graphql"][0]
    checks = [
        ("ours <= 6 statements", ours_stmts <= 6, f"{ours_stmts}"),
        (">= 30x fewer than naive-graphql", naive_stmts >= 30 * ours_stmts, f"{naive_stmts / ours_stmts:.1f}x"),
        ("faster than naive-graphql (p50)", stats["ours"].p50 < stats["naive-graphql"].p50,
         f"{ms(stats['ours'].p50)} vs {ms(stats['naive-graphql'].p50)} ms"),
        ("faster than naive-rest (p50)", stats["ours"].p50 < stats["naive-rest"].p50,
         f"{ms(stats['ours'].p50)} vs {ms(stats['naive-rest'].p50)} ms"),
    ]  # fmt: skip
    print(
        table(["target", "met", "measured"], [[t, "yes" if ok else "NO", m] for t, ok, m in checks])
    )
    print(
        f"ours, end-to-end p50 per field: {stats['ours'].p50 / fields * 1e6:.1f} µs "
        "(server CPU per field: the throughput suite)"
    )
    return {
        "suite": "n-plus-one",
        "machine": facts,
        "page": page,
        "fields": fields,
        "statements": counts,
        "latency_ms": {
            n: {"p50": s.p50 * 1000, "p99": s.p99 * 1000, "n": len(s)} for n, s in stats.items()
        },
        "bytes": sizes,
        "targets": {t: {"met": ok, "measured": m} for t, ok, m in checks},
    }
