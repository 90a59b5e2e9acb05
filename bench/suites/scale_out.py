"""Suite 7, scale-out: suite 2's `session(id)` throughput with two server processes against
one, in the same run, rounds interleaved.

Two ways to spread the load, both measured:
- through a round-robin TCP proxy (`bench.proxy`, a process of its own): one backend against
  two backends behind the same proxy, so the proxy's cost is in both;
- without a proxy: one wrk on one server against two wrks at once, one per server, with half
  the connections each (the load generator "alternating" between two ports).
Both servers run the production configuration (PostgreSQL, Redis broker). The whole machine's
CPU (/proc/stat) and each server's and the proxy's are read around every run, because the
ceiling of scale-out on one machine is its cores, shared by the servers, the load generator,
the proxy and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.database import bench_database
from bench.load import LoadResult, have_wrk, run_load
from bench.machine import describe, print_machine
from bench.probe import Probe, graphql_body
from bench.profile import Recording
from bench.queries import SESSION_BY_ID
from bench.report import ms, ratio, table
from bench.servers import NO_RATE_LIMITS, ROOT, Server
from bench.tree import fingerprint
from graphql_api.api.ids import to_global_id
from graphql_api.store.seed import insert_sessions

SUMMARY = "suite 2 through a round-robin over two server processes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", default="10,50", help="wrk connections in total (10,50)")
    parser.add_argument("--seconds", type=float, default=6, help="per run (6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every configuration (2)")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--profile-seconds", type=float, default=8)
    parser.add_argument("--results-dir", type=Path, default=None)


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


class Proxy:
    def __init__(self, backends: list[Server]) -> None:
        self.backends = backends
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> Proxy:
        command = [sys.executable, "-m", "bench.proxy"]
        for server in self.backends:
            command += ["--backend", f"127.0.0.1:{server.port}"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            raise RuntimeError(f"bench.proxy did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return _proc_cpu(self.process.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of every process named postgres (this run's and everybody else's),
    by pid: a backend that exits takes its total with it, so runs compare pid by pid."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found[int(entry.name)] = _proc_cpu(int(entry.name))
            except (OSError, ValueError):
                continue
    return found


def _run_one(
    targets: list[str], bodies: list[bytes], headers: dict[str, str], connections: int,
    seconds: float, tool: str,
) -> LoadResult:  # fmt: skip
    """One load run spread over `targets` URLs (one load generator per URL, at once); the
    results summed (rates) and the worst percentiles kept."""
    import concurrent.futures

    share = max(1, connections // len(targets))
    with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
        results = list(pool.map(
            lambda url: run_load(url, path="/graphql", method="POST", bodies=bodies, headers=headers,
                                 connections=share, seconds=seconds, tool=tool),
            targets,
        ))  # fmt: skip
    if len(results) == 1:
        return results[0]
    seconds_max = max(r.seconds for r in results)
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=seconds_max,
        errors=sum(r.errors for r in results),
        timeouts=sum(r.timeouts for r in results),
        p50=max(r.p50 for r in results),
        p90=max(r.p90 for r in results),
        p99=max(r.p99 for r in results),
        max=max(r.max for r in results),
        tool=results[0].tool,
    )


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(c) for c in args.concurrency.split(",")]
    results_dir = args.results_dir or Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    results_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        facts["load generator"] = (
            "wrk 1 thread per target" if (args.tool != "python" and have_wrk()) else "python -m bench.loadgen"
        )
        facts["servers"] = "python -m graphql_api serve x2, PostgreSQL + Redis broker, rate limits off"
        facts["proxy"] = "python -m bench.proxy (asyncio + uvloop, round-robin per connection)"
        facts["server code"] = fingerprint()
        print_machine(facts)
        key, secret = await bench.new_key("bench-scale-out")
        ids = await insert_sessions(bench.db, key, args.sessions, args.messages)
        await bench.analyze()
        env = {
            "REDIS_URL": args.redis_url, "REDIS_CHANNEL_PREFIX": prefix, "AGENT_BACKEND": "demo",
            "WORKSPACE_ROOT": tempfile.mkdtemp(prefix="bench-scale-ws-"), **NO_RATE_LIMITS,
        }  # fmt: skip
        bodies = [graphql_body(SESSION_BY_ID, {"id": to_global_id("Session", i)}) for i in ids]
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        servers = [Server(bench.url, env=env), Server(bench.url, env=env)]
        proxies: list[Proxy] = []
        figures: dict[str, Any] = {"suite": "scale-out", "machine": facts, "runs": {}}
        try:
            for server in servers:
                server.start()
            one_proxy = Proxy(servers[:1]).start()
            two_proxy = Proxy(servers).start()
            proxies = [one_proxy, two_proxy]
            configs = {
                "1 process, direct": [servers[0].url],
                "2 processes, 2 load generators": [servers[0].url, servers[1].url],
                "1 process, via proxy": [one_proxy.url],
                "2 processes, via proxy (round-robin)": [two_proxy.url],
            }
            # warm-up and a correctness check: every route answers the same data
            answers = set()
            for urls in configs.values():
                for url in urls:
                    probe = Probe(url, secret)
                    answers.add(str(probe.graphql(SESSION_BY_ID, {"id": to_global_id("Session", ids[0])})))
                    probe.close()
                _run_one(urls, bodies, headers, 4, 2, args.tool)
            if len(answers) != 1:
                raise RuntimeError(f"the routes answered differently: {answers}")
            samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for _ in range(args.rounds):
                for c in levels:
                    for name, urls in configs.items():
                        for server in servers:
                            await asyncio.to_thread(server.wait_idle)
                        before = _snapshot(servers, proxies)
                        result = await asyncio.to_thread(_run_one, urls, bodies, headers, c, args.seconds, args.tool)
                        after = _snapshot(servers, proxies)
                        run = _figures(result, before, after)
                        samples.setdefault((name, c), []).append(run)
                        if result.errors or result.timeouts:
                            print(f"  warning: {name} c={c}: {result.errors} errors, {result.timeouts} timeouts")
                        print(f"  {name} c={c}: {result.rate:,.0f} req/s, p50 {ms(result.p50)} ms")
            profile_text = None
            if args.profile:
                out = results_dir / "scale-out-two-processes.raw"
                await asyncio.to_thread(servers[0].wait_idle)
                recording = Recording(servers[0].pid, args.profile_seconds, out)
                await asyncio.sleep(0.3)
                await asyncio.to_thread(_run_one, configs["2 processes, via proxy (round-robin)"], bodies,
                                        headers, max(levels), args.profile_seconds - 1, args.tool)  # fmt: skip
                from bench.profile import parse

                await asyncio.to_thread(recording.finish)
                profile_text = parse(out).report(
                    f"py-spy: server 1 of 2 behind the proxy at c={max(levels)}", top=15
                )
        finally:
            for proxy in proxies:
                proxy.stop()
            for server in servers:
                server.stop()
    _print(samples, levels, figures, profile_text)
    return figures


def _snapshot(servers: list[Server], proxies: list[Proxy]) -> dict[str, Any]:
    busy, total = _machine_busy()
    return {
        "t": time.perf_counter(), "busy": busy, "total": total, "postgres": _postgres_cpu(),
        "servers": [s.cpu_seconds() for s in servers], "proxies": [p.cpu_seconds() for p in proxies],
    }  # fmt: skip


def _figures(result: LoadResult, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    wall = b["t"] - a["t"]
    return {
        "rps": result.rate, "p50": result.p50, "p99": result.p99, "requests": result.requests,
        "errors": result.errors + result.timeouts,
        "machine_busy": (b["busy"] - a["busy"]) / wall,  # cores
        "servers_cpu": [(y - x) / wall for x, y in zip(a["servers"], b["servers"], strict=True)],
        "proxies_cpu": sum(y - x for x, y in zip(a["proxies"], b["proxies"], strict=True)) / wall,
        "postgres_cpu": sum(cpu - a["postgres"].get(pid, 0.0) for pid, cpu in b["postgres"].items()) / wall,
        "server_cpu_ms_per_request": sum(y - x for x, y in zip(a["servers"], b["servers"], strict=True))
        / max(result.requests, 1) * 1000,
    }  # fmt: skip


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return sum(r[key] for r in runs) / len(runs)


def _print(
    samples: dict[tuple[str, int], list[dict[str, Any]]], levels: list[int], figures: dict[str, Any],
    profile: str | None,
) -> None:  # fmt: skip
    print()
    rows = []
    checks = []
    base_names = {
        "1 process, direct": "1 process, direct",
        "2 processes, 2 load generators": "1 process, direct",
        "1 process, via proxy": "1 process, via proxy",
        "2 processes, via proxy (round-robin)": "1 process, via proxy",
    }
    for c in levels:
        for name, base in base_names.items():
            runs = samples.get((name, c))
            if not runs:
                continue
            rps = _mean(runs, "rps")
            base_rps = _mean(samples[(base, c)], "rps")
            servers = [sum(r["servers_cpu"][i] for r in runs) / len(runs) for i in range(2)]
            row = {
                "rps": rps, "ratio": rps / base_rps, "p50": _mean(runs, "p50"), "p99": _mean(runs, "p99"),
                "machine_busy": _mean(runs, "machine_busy"), "servers_cpu": servers,
                "proxy_cpu": _mean(runs, "proxies_cpu"), "postgres_cpu": _mean(runs, "postgres_cpu"),
                "server_cpu_ms_per_request": _mean(runs, "server_cpu_ms_per_request"),
                "rounds": [r["rps"] for r in runs], "errors": sum(r["errors"] for r in runs),
            }  # fmt: skip
            # requests per CPU-second the server processes got: flat = nothing shared slows
            # them down, so with a core per process the throughput would scale
            row["per_server_core"] = rps / max(sum(servers), 1e-9)
            figures["runs"][f"{name} c={c}"] = row
            rows.append([
                name, c, f"{rps:,.0f}", " / ".join(f"{r['rps']:,.0f}" for r in runs),
                ratio(rps, base_rps), ms(row["p50"]), ms(row["p99"]),
                " + ".join(f"{x:.0%}" for x in servers if x > 0.005) or "-",
                f"{row['proxy_cpu']:.0%}", f"{row['postgres_cpu']:.0%}", f"{row['machine_busy']:.2f}",
                f"{row['server_cpu_ms_per_request']:.2f}", f"{row['per_server_core']:,.0f}",
            ])  # fmt: skip
            if name.startswith("2 processes"):
                base_core = figures["runs"][f"{base} c={c}"]["per_server_core"]
                row["per_core_ratio"] = row["per_server_core"] / base_core
                checks.append((f">= 1.8x with two processes ({name.split(', ', 1)[1]}, c={c})",
                               row["ratio"] >= 1.8,
                               f"{row['ratio']:.2f}x ({rps:,.0f} vs {base_rps:,.0f} req/s); per server "
                               f"core {row['per_core_ratio']:.2f}x"))  # fmt: skip
    cores = os.cpu_count() or 0
    print(table(
        ["configuration", "conc", "req/s", "per round", "vs 1 process", "p50 ms", "p99 ms",
         "servers CPU", "proxy CPU", "postgres CPU", "machine busy (cores)", "server CPU ms/req",
         "req/s per server core"],
        rows,
        title=f"Scale-out: session(id), mean of rounds; the machine has {cores} cores",
    ))  # fmt: skip
    print(table(["target", "met", "measured"], [[t, "yes" if ok else "NO", m] for t, ok, m in checks]))
    figures["targets"] = {t: {"met": ok, "measured": m} for t, ok, m in checks}
    if profile:
        print(profile)
        figures["profile"] = profile
