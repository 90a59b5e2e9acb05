"""Suite 3, pagination depth: page 1 against deep pages of one key's sessions, keyset (ours)
against OFFSET (bench/naive.py's `offset_page`) on the same table, filter and order.

Measured twice in the same run: the statement alone (in-process, same engine), and end to end
over HTTP (ours: `sessions(first, after)`; OFFSET: the REST baseline's `?offset=`).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bench.database import bench_database
from bench.machine import describe, print_machine
from bench.naive import offset_page
from bench.probe import Probe, graphql_body
from bench.queries import SESSIONS_PAGE
from bench.report import Samples, ms, ratio, table
from bench.servers import running
from graphql_api.api.pagination import encode_cursor
from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import PageSpec
from graphql_api.store.scoping import sessions_table as t
from graphql_api.store.seed import build_session
from graphql_api.store.sessions import SessionFilter, SessionRepository
from graphql_api.store.types import utcnow

SUMMARY = "page 1 vs deep pages: keyset vs OFFSET"
LIST = "sessions:CREATED_AT_DESC"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=int, default=10_000, help="the key's sessions (10,000)")
    parser.add_argument(
        "--other-sessions", type=int, default=0, help="sessions of other keys in the same table (0)"
    )
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--depths", default="1,10,50,100,150,200", help="pages to measure")
    parser.add_argument("--sql-requests", type=int, default=200, help="per depth and method")
    parser.add_argument("--http-requests", type=int, default=100, help="per depth and server")


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


async def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = await fn()
    return time.perf_counter() - start, value


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    size = args.page_size
    depths = [int(d) for d in args.depths.split(",")]
    if max(depths) * size > args.sessions:
        raise SystemExit(f"page {max(depths)} of {size} needs {max(depths) * size} sessions")
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        print_machine(facts)
        key, secret = await bench.new_key("bench")
        start = utcnow() - timedelta(days=30)
        loaded = time.perf_counter()
        await bench.copy_sessions(
            build_session(key, i, 0, start + timedelta(seconds=i))[0] for i in range(args.sessions)
        )
        if args.other_sessions:
            others = await bench.copy_keys(10)
            await bench.copy_sessions(
                build_session(others[i % 10], i, 0, start + timedelta(seconds=i, milliseconds=500))[0]
                for i in range(args.other_sessions)
            )  # fmt: skip
        await bench.analyze()
        print(
            f"loaded {args.sessions + args.other_sessions:,} sessions by COPY in "
            f"{time.perf_counter() - loaded:.1f} s\n"
        )
        principal = Principal(key_id=key, name="bench", is_admin=False)
        async with bench.db.read() as conn:
            positions = (await conn.execute(
                select(t.c.created_at, t.c.id).where(t.c.owner_key_id == key)
                .order_by(t.c.created_at.desc(), t.c.id.desc())
            )).all()  # fmt: skip

        def after(depth: int) -> tuple[Any, ...] | None:
            return tuple(positions[(depth - 1) * size - 1]) if depth > 1 else None

        # The statement alone, in-process: our repository against OFFSET, interleaved.
        sql: dict[tuple[str, int], list[float]] = {}
        async with bench.db.read() as conn:
            repo = SessionRepository(conn)
            for depth in depths:
                spec = PageSpec(limit=size, after=after(depth))
                keyset_rows = (
                    await repo.page(principal, SessionFilter(), "CREATED_AT_DESC", spec)
                ).rows
                offset_rows = await offset_page(conn, principal, (depth - 1) * size, size)
                if [r.id for r in keyset_rows] != [r.id for r in offset_rows]:
                    raise RuntimeError(f"keyset and OFFSET disagree on page {depth}")
            for _ in range(args.sql_requests):
                for depth in depths:
                    spec = PageSpec(limit=size, after=after(depth))
                    elapsed, _ = await _timed(
                        lambda spec=spec: repo.page(
                            principal, SessionFilter(), "CREATED_AT_DESC", spec
                        )
                    )
                    sql.setdefault(("keyset", depth), []).append(elapsed)
                    elapsed, _ = await _timed(
                        lambda depth=depth: offset_page(conn, principal, (depth - 1) * size, size)
                    )
                    sql.setdefault(("offset", depth), []).append(elapsed)

        # End to end over HTTP.
        http: dict[tuple[str, int], list[float]] = {}
        with running(bench.url, [None, "naive"]) as (ours, naive):
            gql, rest = Probe(ours.url, secret), Probe(naive.url, secret)
            requests = {}
            for depth in depths:
                keys = after(depth)
                variables = {"first": size, "after": encode_cursor(LIST, keys) if keys else None}
                page = gql.graphql(SESSIONS_PAGE, variables)["sessions"]
                assert len(page["edges"]) == size
                requests[("keyset", depth)] = (
                    gql,
                    "POST",
                    "/graphql",
                    graphql_body(SESSIONS_PAGE, variables),
                )
                requests[("offset", depth)] = (
                    rest,
                    "GET",
                    f"/rest/session-page?limit={size}&offset={(depth - 1) * size}",
                    None,
                )
            for probe, method, path, body in requests.values():
                probe.time(method, path, body, n=0, warmup=3)
            for _ in range(args.http_requests):
                for name, (probe, method, path, body) in requests.items():
                    http.setdefault(name, []).append(probe.time_once(method, path, body))
            gql.close()
            rest.close()

    s = {k: Samples(v) for k, v in sql.items()}
    h = {k: Samples(v) for k, v in http.items()}
    rows = []
    for depth in depths:
        rows.append([
            depth, f"{(depth - 1) * size:,}",
            ms(s[("keyset", depth)].p50), ratio(s[("keyset", depth)].p50, s[("keyset", 1)].p50),
            ms(s[("offset", depth)].p50), ratio(s[("offset", depth)].p50, s[("offset", 1)].p50),
            ms(h[("keyset", depth)].p50), ms(h[("keyset", depth)].p99),
            ratio(h[("keyset", depth)].p50, h[("keyset", 1)].p50),
            ms(h[("offset", depth)].p50), ms(h[("offset", depth)].p99),
            ratio(h[("offset", depth)].p50, h[("offset", 1)].p50),
        ])  # fmt: skip
    print(table(
        ["page", "skipped", "keyset SQL p50", "vs p1", "OFFSET SQL p50", "vs p1",
         "keyset HTTP p50", "p99", "vs p1", "OFFSET HTTP p50", "p99", "vs p1"],
        rows,
        title=f"Pagination depth: {args.sessions:,} sessions of one key, {size} a page; ms. "
        f"SQL: {args.sql_requests} statements a cell in-process; HTTP: {args.http_requests} requests a cell",
    ))  # fmt: skip
    deepest = max(depths)
    sql_ratio = s[("keyset", deepest)].p50 / s[("keyset", 1)].p50
    http_ratio = h[("keyset", deepest)].p50 / h[("keyset", 1)].p50
    checks = [
        (f"keyset page {deepest} / page 1 <= 1.5x (HTTP)", http_ratio <= 1.5, f"{http_ratio:.2f}x"),
        (f"keyset page {deepest} / page 1 <= 1.5x (SQL)", sql_ratio <= 1.5, f"{sql_ratio:.2f}x"),
    ]
    print(
        table(["target", "met", "measured"], [[c, "yes" if ok else "NO", m] for c, ok, m in checks])
    )
    return {
        "suite": "pagination-depth", "machine": facts, "sessions": args.sessions, "page_size": size,
        "sql_ms": {f"{k[0]} p{k[1]}": {"p50": v.p50 * 1000, "p99": v.p99 * 1000} for k, v in s.items()},
        "http_ms": {f"{k[0]} p{k[1]}": {"p50": v.p50 * 1000, "p99": v.p99 * 1000} for k, v in h.items()},
        "targets": {c: {"met": ok, "measured": m} for c, ok, m in checks},
    }  # fmt: skip
