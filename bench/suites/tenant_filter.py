"""Suite 4, tenant filter: one key's newest sessions among many keys' sessions.

The plan of the exact statement our repository runs (EXPLAIN ANALYZE: it must be an index
scan on the owner index), its latency in-process and end to end over HTTP, against the
baseline that loads every session and filters in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from bench.database import bench_database
from bench.machine import describe, print_machine
from bench.probe import Probe, graphql_body
from bench.queries import SESSIONS_PAGE
from bench.report import Samples, ms, ratio, table
from bench.servers import running
from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import PageSpec
from graphql_api.store.scoping import sessions_table
from graphql_api.store.seed import build_session
from graphql_api.store.sessions import SessionFilter, SessionRepository
from graphql_api.store.types import utcnow

SUMMARY = "a key's newest sessions among 100,000: plan and latency"
OWNER_INDEX = "ix_sessions_owner_created"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=int, default=100_000, help="in all (100,000)")
    parser.add_argument("--keys", type=int, default=1_000, help="owners, round-robin (1,000)")
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--callers", type=int, default=10, help="keys the requests rotate over")
    parser.add_argument("--requests", type=int, default=300, help="timed, in-process and HTTP")
    parser.add_argument("--baseline-requests", type=int, default=5, help="load-all baseline runs")


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    size = args.page_size
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        print_machine(facts)
        callers = [await bench.new_key(f"caller-{i}") for i in range(args.callers)]
        loaded = time.perf_counter()
        owners = [k for k, _ in callers] + await bench.copy_keys(args.keys - args.callers)
        start = utcnow() - timedelta(days=60)
        await bench.copy_sessions(
            build_session(owners[i % len(owners)], i, 0, start + timedelta(seconds=i))[0]
            for i in range(args.sessions)
        )  # fmt: skip
        load_seconds = time.perf_counter() - loaded
        await bench.analyze()
        print(
            f"loaded {len(owners):,} keys and {args.sessions:,} sessions by COPY in "
            f"{load_seconds:.1f} s (+ VACUUM ANALYZE)\n"
        )
        principals = [Principal(key_id=k, name="caller", is_admin=False) for k, _ in callers]
        spec = PageSpec(limit=size)

        # The exact statement the repository runs, and its plan.
        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *a: Any) -> None:
            captured.append((statement, parameters))

        engine = bench.db.engine.sync_engine
        async with bench.db.read() as conn:
            event.listen(engine, "before_cursor_execute", capture)
            try:
                page = await SessionRepository(conn).page(
                    principals[0], SessionFilter(), "CREATED_AT_DESC", spec
                )
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            statement, parameters = captured[-1]
            plan_rows = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            plan = "\n".join(r[0] for r in plan_rows)
        assert len(page.rows) == min(size, args.sessions // len(owners))
        index_scan = OWNER_INDEX in plan and "Index" in plan and "Seq Scan" not in plan

        # Latency: the statement in-process, and the baseline (load all, filter in Python).
        ours_sql: list[float] = []
        baseline: list[float] = []
        async with bench.db.read() as conn:
            repo = SessionRepository(conn)
            for i in range(args.requests):
                principal = principals[i % len(principals)]
                t0 = time.perf_counter()
                await repo.page(principal, SessionFilter(), "CREATED_AT_DESC", spec)
                ours_sql.append(time.perf_counter() - t0)
            for i in range(args.baseline_requests):
                owner = principals[i % len(principals)].key_id
                t0 = time.perf_counter()
                rows = (await conn.execute(select(sessions_table))).all()
                mine = sorted(
                    (r for r in rows if r.owner_key_id == owner),
                    key=lambda r: (r.created_at, r.id),
                    reverse=True,
                )[:size]
                baseline.append(time.perf_counter() - t0)
                assert len(mine) == len(page.rows)

        # End to end over HTTP.
        http: list[float] = []
        with running(bench.url, [None]) as (server,):
            probes = [Probe(server.url, secret) for _, secret in callers]
            body = graphql_body(SESSIONS_PAGE, {"first": size})
            for probe in probes:
                assert len(
                    probe.graphql(SESSIONS_PAGE, {"first": size})["sessions"]["edges"]
                ) == len(page.rows)
                probe.time("POST", "/graphql", body, n=0, warmup=3)
            for i in range(args.requests):
                http.append(probes[i % len(probes)].time_once("POST", "/graphql", body))
            for probe in probes:
                probe.close()

    executed = re.search(r"Execution Time: ([0-9.]+) ms", plan)
    pg_ms = float(executed.group(1)) / 1000 if executed else float("nan")
    stats = {
        "ours: statement in-process": Samples(ours_sql),
        "ours: HTTP end to end": Samples(http),
        "baseline: load all, filter in Python": Samples(baseline),
    }
    base = stats["baseline: load all, filter in Python"].p50
    rows = [["ours: inside PostgreSQL (EXPLAIN ANALYZE)", 1, ms(pg_ms), "-", ratio(base, pg_ms)]]
    rows += [[name, len(s), ms(s.p50), ms(s.p99), ratio(base, s.p50)] for name, s in stats.items()]
    print("EXPLAIN (ANALYZE, BUFFERS) of the repository's statement:\n")
    print("  " + statement.replace("\n", " "))
    print("  parameters:", parameters)
    print()
    print("\n".join("  " + line for line in plan.splitlines()))
    print()
    print(
        table(
            ["query", "n", "p50 ms", "p99 ms", "baseline p50 / p50"],
            rows,
            title=f"Tenant filter: a key's {size} newest of {args.sessions:,} sessions of {len(owners):,} keys",
        )
    )
    http_p50 = stats["ours: HTTP end to end"].p50
    checks = [
        (f"index scan on {OWNER_INDEX}", index_scan, "yes" if index_scan else "no"),
        ("latency <= 5 ms (HTTP p50)", http_p50 <= 0.005, f"{ms(http_p50)} ms"),
        ("latency <= 5 ms (statement p50)", stats["ours: statement in-process"].p50 <= 0.005,
         f"{ms(stats['ours: statement in-process'].p50)} ms"),
    ]  # fmt: skip
    print(
        table(["target", "met", "measured"], [[c, "yes" if ok else "NO", m] for c, ok, m in checks])
    )
    return {
        "suite": "tenant-filter", "machine": facts, "load_seconds": load_seconds, "plan": plan,
        "latency_ms": {n: {"p50": s.p50 * 1000, "p99": s.p99 * 1000, "n": len(s)} for n, s in stats.items()},
        "targets": {c: {"met": ok, "measured": m} for c, ok, m in checks},
    }  # fmt: skip
