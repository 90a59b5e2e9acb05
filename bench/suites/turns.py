"""Suite 6, turns: the server's overhead on top of the agent CLI, with the stand-in CLI
(tests/agent_doubles/standin_cli.py) as the agent, PostgreSQL and the Redis broker.

- Time to the first event: `sendMessage` over HTTP -> the first TextDelta (and the first
  assistant MessageAdded) received by a websocket subscriber of the session, against the same
  CLI driven directly in the same run (`bench.sdkdirect`: ClaudeSDKClient with the server's
  options, from before connect() to the first text delta / assistant message). The difference
  is the server's overhead. At concurrency 1 (rounds interleaved) and with N turns at once.
- Stored messages per second: N turns of `!many 20` at once (22 stored messages each: the
  prompt, 20 assistant messages, the result), counted in the database, against the messages/s
  the same N CLIs deliver to direct SDK clients.
- Memory per running turn, server process only: RSS with N turns held open in `!slow`
  against idle (the CLI processes are children and counted apart).
py-spy records the server during bursts of `!many 20` after the timed runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import gcstats
from bench.database import bench_database
from bench.machine import describe, print_machine
from bench.profile import Recording, parse
from bench.report import Samples, ms, ratio, table
from bench.servers import NO_RATE_LIMITS, ROOT, Server
from bench.tree import fingerprint
from bench.wspool import ClientPool, Publisher, raise_nofile, wait_seen
from graphql_api.api.ids import from_global_id

SUMMARY = "100 concurrent turns with the stand-in CLI: server overhead"
STANDIN = ROOT / "tests" / "agent_doubles" / "standin_cli.py"
INCLUSIVE = (
    "graphql_api/", "graphql/", "strawberry/", "json/", "starlette/", "uvicorn/", "websockets/",
    "redis/", "sqlalchemy/", "asyncpg/", "claude_agent_sdk/", "anyio/",
)  # fmt: skip

EVENTS = """subscription Events($id: ID!) {
  sessionEvents(sessionId: $id) {
    __typename sequence
    ... on TextDelta { text }
    ... on MessageAdded { message { sequence role } }
    ... on TurnStarted { turn { id } }
    ... on TurnFinished { turn { id status } }
  }
}"""
CREATE = "mutation($input: CreateSessionInput!) { createSession(input: $input) { session { id } } }"
SEND = """mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { turn { id status } }
}"""
INTERRUPT = "mutation($input: InterruptInput!) { interrupt(input: $input) { session { id } } }"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--turns", type=int, default=100, help="turns at once (100)")
    parser.add_argument("--rounds", type=int, default=30, help="concurrency-1 rounds (30)")
    parser.add_argument("--bursts", type=int, default=1, help="bursts of N turns per side (1)")
    parser.add_argument("--many", type=int, default=20, help="blocks of the !many prompt (20)")
    parser.add_argument("--cli", type=Path, default=STANDIN, help="the agent CLI (the stand-in)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--clients", type=int, default=2, help="subscriber processes (2)")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--profile-seconds", type=float, default=10)
    parser.add_argument("--results-dir", type=Path, default=None)


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


# ----------------------------------------------------------------------------- drivers


def _direct(args: argparse.Namespace, dirs: dict[str, Path], prompt: str, concurrency: int) -> dict[str, Any]:
    """N direct SDK clients at once, in a process of their own."""
    spec = {
        "cli_path": str(args.cli), "config_dir": str(dirs["direct_config"]),
        "workspace_root": str(dirs["direct_ws"]), "prompt": prompt, "concurrency": concurrency,
    }  # fmt: skip
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "bench.sdkdirect"], input=json.dumps(spec), capture_output=True,
        text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"bench.sdkdirect failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout)
    errors = [c["error"] for c in result["clients"] if c["error"]]
    if errors:
        print(f"  warning: {len(errors)} direct clients failed, e.g. {errors[0]}")
    return result


class Driver:
    """The server side: sessions, their subscribers, and turns sent over HTTP."""

    def __init__(self, server: Server, secret: str, pool: ClientPool, sessions: list[str]) -> None:
        self.server = server
        self.pool = pool
        self.sessions = sessions  # global ids; the subscriber of sessions[i] has tag str(i)
        self.http = httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Bearer {secret}"},
            # idle connections are dropped here before uvicorn drops them (5 s): a request sent
            # on a connection the server is closing fails with ReadError
            limits=httpx.Limits(max_connections=len(sessions) + 10,
                                max_keepalive_connections=len(sessions) + 10, keepalive_expiry=2.0),
            timeout=300,
        )  # fmt: skip

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"GraphQL failed ({response.status_code}): {str(body)[:500]}")
        return body["data"]

    async def send(self, index: int, prompt: str) -> dict[str, Any]:
        sent_ns = time.monotonic_ns()
        data = await self.graphql(SEND, {"input": {"sessionId": self.sessions[index], "prompt": prompt}})
        answered_ns = time.monotonic_ns()
        turn = data["sendMessage"]["turn"]
        return {
            "index": index, "sent_ns": sent_ns, "answered_ns": answered_ns,
            "turn_id": from_global_id(turn["id"])[1], "status": turn["status"],
        }  # fmt: skip

    async def burst(self, indexes: list[int], prompt: str, timeout: float = 240) -> list[dict[str, Any]]:
        """Send to these sessions at once; wait for every turn's TurnFinished; per turn the
        receipt times of its first TextDelta, first assistant MessageAdded and TurnFinished."""
        await self.pool.reset(log_events=True)
        sends = await asyncio.gather(*(self.send(i, prompt) for i in indexes))
        by_tag = {str(s["index"]): s for s in sends}
        deadline = time.monotonic() + timeout
        while True:
            events = (await self.pool.stats()).events
            finished = {
                tag for tag, typename, _, at in events
                if typename == "TurnFinished" and tag in by_tag and at >= by_tag[tag]["sent_ns"]
            }  # fmt: skip
            if len(finished) == len(by_tag):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(finished)} of {len(by_tag)} turns finished in {timeout:.0f} s")
            await asyncio.sleep(0.2)
        for tag, typename, role, at in sorted(events, key=lambda e: e[3]):
            send = by_tag.get(tag)
            if send is None or at < send["sent_ns"]:
                continue
            if "first_event_ns" not in send:
                send["first_event_ns"] = at
            if typename == "TurnStarted" and "started_ns" not in send:
                send["started_ns"] = at
            if typename == "MessageAdded" and role == "USER" and "user_message_ns" not in send:
                send["user_message_ns"] = at
            if typename == "TextDelta" and "first_delta_ns" not in send:
                send["first_delta_ns"] = at
            elif typename == "MessageAdded" and role == "ASSISTANT" and "first_assistant_ns" not in send:
                send["first_assistant_ns"] = at
            elif typename == "TurnFinished" and "finished_ns" not in send:
                send["finished_ns"] = at
        return sends

    async def close(self) -> None:
        await self.http.aclose()


def _server_times(sends: list[dict[str, Any]]) -> dict[str, list[float]]:
    def span(send: dict[str, Any], key: str) -> float | None:
        return (send[key] - send["sent_ns"]) / 1e9 if key in send else None

    out: dict[str, list[float]] = {
        "first_event": [], "started": [], "user_message": [], "first_delta": [],
        "first_assistant": [], "answered": [], "finished": [],
    }  # fmt: skip
    for send in sends:
        for name, key in (("first_event", "first_event_ns"), ("started", "started_ns"),
                          ("user_message", "user_message_ns"), ("first_delta", "first_delta_ns"),
                          ("first_assistant", "first_assistant_ns"), ("answered", "answered_ns"),
                          ("finished", "finished_ns")):  # fmt: skip
            value = span(send, key)
            if value is not None:
                out[name].append(value)
    return out


def _direct_times(result: dict[str, Any]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"connect": [], "first_delta": [], "first_assistant": [], "finished": []}
    for c in result["clients"]:
        for name, key in (("connect", "connect"), ("first_delta", "first_delta"),
                          ("first_assistant", "first_assistant"), ("finished", "result")):  # fmt: skip
            if c.get(key) is not None:
                out[name].append(c[key])
    return out


async def _stored(dsn: str, turn_ids: list[Any]) -> tuple[int, dict[str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        ids = [uuid.UUID(str(t)) for t in turn_ids]
        count = await conn.fetchval("select count(*) from messages where turn_id = any($1::uuid[])", ids)
        statuses = await conn.fetch(
            "select status, count(*) from turns where id = any($1::uuid[]) group by status", ids
        )
    finally:
        await conn.close()
    return int(count), {r["status"]: int(r["count"]) for r in statuses}


def _children_rss_mib(pid: int) -> tuple[int, float]:
    """How many child processes `pid` has (the agent CLIs) and their RSS together."""
    count, total = 0, 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            count += 1
        except (OSError, ValueError, IndexError):
            continue
    return count, total


# ----------------------------------------------------------------------------- the suite


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.turns
    raise_nofile(4 * n + 1000)
    results_dir = args.results_dir or Path(tempfile.mkdtemp(prefix="bench-turns-"))
    results_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-turns-"))
    dirs = {name: scratch / name for name in ("server_ws", "server_config", "direct_ws", "direct_config")}
    for d in dirs.values():
        d.mkdir()
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    figures: dict[str, Any] = {"suite": "turns", "turns": n}
    async with bench_database(args.pg_admin_dsn, keep=args.keep_db) as bench:
        facts = describe(bench.version)
        facts["agent CLI"] = f"{args.cli} (stand-in), claude-agent-sdk {_sdk_version()}"
        facts["server"] = "graphql-api serve via bench.serve (GC pauses timed), AGENT_BACKEND=claude, Redis broker"
        facts["server code"] = fingerprint()
        print_machine(facts)
        figures["machine"] = facts
        _, secret = await bench.new_key("bench-turns")
        gc_path = gcstats.log_path(uuid.uuid4().hex[:6])
        env = {
            "REDIS_URL": args.redis_url, "REDIS_CHANNEL_PREFIX": prefix,
            "AGENT_BACKEND": "claude", "CLAUDE_CLI_PATH": str(args.cli),
            "CLAUDE_CONFIG_DIR": str(dirs["server_config"]), "WORKSPACE_ROOT": str(dirs["server_ws"]),
            "MAX_RUNNING_TURNS": str(n + 10), "SUBSCRIPTIONS_PER_KEY": str(4 * n + 100),
            "BENCH_GC_LOG": str(gc_path), **NO_RATE_LIMITS,
        }  # fmt: skip
        server = Server(bench.url, variant="product", env=env).start()
        pool = await ClientPool(args.clients).start()
        publisher = Publisher(args.redis_url, prefix)
        try:
            figures.update(await _measure(args, bench, server, pool, publisher, secret, dirs, results_dir, gc_path))
        finally:
            await pool.close()
            await publisher.close()
            figures["server_warnings"] = [
                l for l in server.log().splitlines() if "WARNING" in l or "ERROR" in l
            ]  # fmt: skip
            server.stop()
            gc_path.unlink(missing_ok=True)
    _print(figures, n)
    if figures.get("profile"):
        print(f"raw py-spy profile (collapsed stacks): {results_dir}")
    return figures


def _sdk_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("claude-agent-sdk")
    except metadata.PackageNotFoundError:
        return "?"


async def _measure(
    args: argparse.Namespace, bench: Any, server: Server, pool: ClientPool, publisher: Publisher,
    secret: str, dirs: dict[str, Path], results_dir: Path, gc_path: Path,
) -> dict[str, Any]:  # fmt: skip
    n = args.turns
    out: dict[str, Any] = {}
    # sessions and one subscriber each
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60) as http:
        sessions: list[str] = []
        for start in range(0, n, 20):
            replies = await asyncio.gather(*(
                http.post("/graphql", json={"query": CREATE, "variables": {"input": {"title": f"bench {i}"}}})
                for i in range(start, min(n, start + 20))
            ))  # fmt: skip
            sessions.extend(r.json()["data"]["createSession"]["session"]["id"] for r in replies)
    conns = [{"subs": [[str(i), {"id": sid}]]} for i, sid in enumerate(sessions)]
    opened = await pool.open(server.port, secret, conns, deflate=True, query=EVENTS)
    if opened["failed"]:
        raise RuntimeError(f"subscribers failed: {opened['errors']}")
    await wait_seen(pool, publisher, [from_global_id(s)[1] for s in sessions], n)
    driver = Driver(server, secret, pool, sessions)
    try:
        # warm-up: the first turn of a process pays imports and pools; not timed
        await asyncio.to_thread(_direct, args, dirs, "hello", 2)
        await driver.burst([0, 1], "hello")
        await asyncio.to_thread(server.wait_idle, 60.0, 1.0)

        # 1. first event, concurrency 1, interleaved
        c1_server: list[dict[str, Any]] = []
        c1_direct: list[dict[str, Any]] = []
        for r in range(args.rounds):
            c1_direct.extend((await asyncio.to_thread(_direct, args, dirs, "hello", 1))["clients"])
            c1_server.extend(await driver.burst([r % n], "hello"))
        out["c1"] = {"server": _server_times(c1_server), "direct": _direct_times({"clients": c1_direct})}
        print(f"  concurrency 1: server first delta p50 {ms(Samples(out['c1']['server']['first_delta']).p50)} ms, "
              f"direct {ms(Samples(out['c1']['direct']['first_delta']).p50)} ms")  # fmt: skip

        # 2. first event, N at once, interleaved bursts
        cn_server: list[dict[str, Any]] = []
        cn_direct: list[dict[str, Any]] = []
        server_cpu = 0.0
        for _ in range(args.bursts):
            await asyncio.to_thread(server.wait_idle, 60.0, 1.0)
            cn_direct.extend((await asyncio.to_thread(_direct, args, dirs, "hello", n))["clients"])
            await asyncio.to_thread(server.wait_idle, 60.0, 1.0)
            cpu0 = server.cpu_seconds()
            cn_server.extend(await driver.burst(list(range(n)), "hello"))
            server_cpu += server.cpu_seconds() - cpu0
        out["cn"] = {
            "server": _server_times(cn_server), "direct": _direct_times({"clients": cn_direct}),
            "server_cpu_ms_per_turn": server_cpu / max(len(cn_server), 1) * 1000,
        }  # fmt: skip
        print(f"  concurrency {n}: server first delta p50 {ms(Samples(out['cn']['server']['first_delta']).p50)} ms, "
              f"direct {ms(Samples(out['cn']['direct']['first_delta']).p50)} ms")  # fmt: skip

        # 3. stored messages per second
        prompt = f"!many {args.many}"
        await asyncio.to_thread(server.wait_idle, 60.0, 1.0)
        direct = await asyncio.to_thread(_direct, args, dirs, prompt, n)
        direct_messages = sum(c["messages"] for c in direct["clients"])
        await asyncio.to_thread(server.wait_idle, 60.0, 1.0)
        gc0 = gcstats.snapshot(server.pid, gc_path)
        cpu0 = server.cpu_seconds()
        sends = await driver.burst(list(range(n)), prompt)
        cpu = server.cpu_seconds() - cpu0
        gc_window = gcstats.window(gc0, gcstats.snapshot(server.pid, gc_path))
        first = min(s["sent_ns"] for s in sends)
        last = max(s["finished_ns"] for s in sends)
        stored, statuses = await _stored(bench.dsn, [s["turn_id"] for s in sends])
        out["many"] = {
            "stored": stored, "statuses": statuses, "seconds": (last - first) / 1e9,
            "rate": stored / ((last - first) / 1e9), "server_cpu_s": cpu,
            "server_cpu_ms_per_message": cpu / max(stored, 1) * 1000,
            "direct_messages": direct_messages, "direct_seconds": direct["wall"],
            "direct_rate": direct_messages / direct["wall"], "gc": gc_window,
            "finished": _server_times(sends)["finished"],
        }  # fmt: skip
        print(f"  !many {args.many} x {n}: {stored} stored in {out['many']['seconds']:.1f} s "
              f"= {out['many']['rate']:.0f}/s (direct {out['many']['direct_rate']:.0f}/s) {statuses}")  # fmt: skip

        # 4. memory per running turn (server process only)
        await asyncio.to_thread(server.wait_idle, 60.0, 1.0)
        rss_idle = server.rss_mib()
        children_idle = _children_rss_mib(server.pid)
        await pool.reset(log_events=True)
        holds = await asyncio.gather(*(driver.send(i, "!slow 100000 0.5") for i in range(n)))
        deadline = time.monotonic() + 120
        while True:
            events = (await pool.stats()).events
            running = {tag for tag, typename, _, _ in events if typename == "TextDelta"}
            if len(running) >= n or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(2.0)
        rss_running = server.rss_mib()
        children_running = _children_rss_mib(server.pid)
        await asyncio.gather(*(driver.graphql(INTERRUPT, {"input": {"sessionId": s}}) for s in sessions))
        await _wait_finished(pool, n, holds)
        out["memory"] = {
            "rss_idle_mib": rss_idle, "rss_running_mib": rss_running, "running": len(running),
            "mib_per_turn": (rss_running - rss_idle) / max(len(running), 1),
            "children_idle": children_idle, "children_running": children_running,
        }  # fmt: skip
        print(f"  memory: server {rss_idle:.0f} -> {rss_running:.0f} MiB with {len(running)} turns running")

        # profile: the first seconds of another burst of N turns of !many (not timed)
        if args.profile:
            await asyncio.to_thread(server.wait_idle, 60.0, 1.0)
            raw = results_dir / "turns-many.raw"
            recording = Recording(server.pid, args.profile_seconds, raw)
            await asyncio.sleep(0.3)
            await driver.burst(list(range(n)), prompt)
            await asyncio.to_thread(recording.finish)
            idle = _drop_idle_workers(raw)
            out["profile_idle_worker_share"] = idle
            out["profile"] = f"(left out: {idle:.1%} of samples, idle thread-pool workers in queue.get)\n" + parse(raw, INCLUSIVE).report(
                f"py-spy: the server, the first {args.profile_seconds:g} s of {n} turns of '{prompt}' at once",
                top=25,
            )
    finally:
        await driver.close()
    return out


def _drop_idle_workers(raw: Path) -> float:
    """py-spy counts the SDK's thread-pool workers waiting in queue.get as busy: leave those
    samples out of the profile. Returns their share."""
    kept, dropped, total = [], 0, 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count) if count.isdigit() else 0
        total += n
        leaf = stack.split(";")[-1]
        if leaf.startswith("_worker (") and "concurrent/futures/thread.py" in leaf:
            dropped += n
            continue
        kept.append(line)
    raw.write_text("\n".join(kept) + "\n")
    return dropped / total if total else 0.0


async def _wait_finished(pool: ClientPool, n: int, holds: list[dict[str, Any]], timeout: float = 60) -> None:
    sent = {str(h["index"]): h["sent_ns"] for h in holds}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = (await pool.stats()).events
        done = {t for t, typename, _, at in events if typename == "TurnFinished" and at >= sent.get(t, 0)}
        if len(done) >= n:
            return
        await asyncio.sleep(0.25)
    print(f"  warning: not every held turn finished after its interrupt within {timeout:.0f} s")


def _print(figures: dict[str, Any], n: int) -> None:
    print()
    rows: list[list[Any]] = []
    checks: list[tuple[str, bool, str]] = []
    for key, label in (("c1", "1"), ("cn", str(n))):
        part = figures.get(key)
        if not part:
            continue
        server, direct = part["server"], part["direct"]
        for what, title in (("first_delta", "first TextDelta"), ("first_assistant", "first assistant message")):
            s, d = Samples(server[what]), Samples(direct[what])
            rows.append([
                label, title, len(s), ms(d.p50), ms(d.p99), ms(s.p50), ms(s.p99),
                f"{(s.p50 - d.p50) * 1000:+.1f}", f"{(s.p99 - d.p99) * 1000:+.1f}", ratio(s.p50, d.p50),
            ])  # fmt: skip
        c = Samples(direct["connect"])
        a = Samples(server["answered"])
        e = Samples(server["first_event"])
        rows.append([label, "CLI start: connect() / sendMessage answered", len(a), ms(c.p50), ms(c.p99),
                     ms(a.p50), ms(a.p99), "-", "-", "-"])  # fmt: skip
        rows.append([label, "server: first event of the turn (TurnStarted)", len(e), "-", "-",
                     ms(e.p50), ms(e.p99), "-", "-", "-"])  # fmt: skip
        u = Samples(server["user_message"])
        rows.append([label, "server: the prompt stored (MessageAdded USER)", len(u), "-", "-",
                     ms(u.p50), ms(u.p99), "-", "-", "-"])  # fmt: skip
    if rows:
        print(table(
            ["turns at once", "event", "n", "direct p50", "direct p99", "server p50", "server p99",
             "overhead p50 ms", "overhead p99 ms", "server / direct"],
            rows,
            title="Time to the first event (ms): server = sendMessage -> subscriber receipt; "
            "direct = ClaudeSDKClient() + connect() + query -> the SDK yields it",
        ))  # fmt: skip
    for key in ("c1", "cn"):
        part = figures.get(key)
        if part:
            s, d = Samples(part["server"]["first_delta"]), Samples(part["direct"]["first_delta"])
            over = (s.p50 - d.p50) * 1000
            label = "1 turn" if key == "c1" else f"{n} turns at once"
            checks.append((f"server overhead to the first event <= 20 ms ({label}, p50)", over <= 20, f"{over:+.1f} ms"))
    many = figures.get("many")
    if many:
        print(table(
            ["", "messages", "seconds", "messages/s", "vs direct", "server CPU ms/message"],
            [
                ["server: stored (DB count)", many["stored"], f"{many['seconds']:.2f}", f"{many['rate']:,.0f}",
                 ratio(many["rate"], many["direct_rate"]), f"{many['server_cpu_ms_per_message']:.2f}"],
                ["direct: received by SDK clients", many["direct_messages"], f"{many['direct_seconds']:.2f}",
                 f"{many['direct_rate']:,.0f}", "1.00x", "-"],
            ],
            title=f"Stored messages per second: {n} turns of '!many' at once (turn statuses: {many['statuses']})",
        ))  # fmt: skip
        fin = Samples(many["finished"])
        print(f"turn duration (sendMessage -> TurnFinished received): p50 {ms(fin.p50)} ms, p99 {ms(fin.p99)} ms")
        print("GC during the burst: " + gcstats.describe(many.get("gc")))
        print()
    mem = figures.get("memory")
    if mem:
        ci, cr = mem["children_idle"], mem["children_running"]
        print(table(
            ["", "server RSS MiB", "agent CLI processes", "their RSS MiB"],
            [["idle", f"{mem['rss_idle_mib']:.0f}", ci[0], f"{ci[1]:.0f}"],
             [f"{mem['running']} turns running (!slow)", f"{mem['rss_running_mib']:.0f}", cr[0], f"{cr[1]:.0f}"],
             ["per running turn", f"{mem['mib_per_turn']:.2f}", "-",
              f"{(cr[1] - ci[1]) / max(mem['running'], 1):.1f}"]],
            title="Memory per running turn (server process only; the CLIs are its children)",
        ))  # fmt: skip
    if checks:
        print(table(["target", "met", "measured"], [[t, "yes" if ok else "NO", m] for t, ok, m in checks]))
    warnings = figures.get("server_warnings") or []
    if warnings:
        print(f"the server logged {len(warnings)} warnings/errors, e.g.:")
        for line in warnings[:3]:
            print(f"  {line[:300]}")
        print()
    if figures.get("profile"):
        print(figures["profile"])
