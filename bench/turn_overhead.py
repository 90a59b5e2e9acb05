"""Issue 3's closing figures, in one process: the server's time from sendMessage to the first
stored agent message on top of the stand-in CLI's own start (p50 over 50 turns), and the
server's memory per running turn, CLI processes excluded.

Usage: python -m bench.turn_overhead postgresql+asyncpg://postgres@127.0.0.1/<empty db>
"""
import asyncio, time, sys, statistics, tempfile, os
from tests.conftest import make_settings
from tests.agent_doubles import standin_cli_path
from graphql_api.services import Services
from graphql_api.store.migrate import upgrade_to_head
from graphql_api.domain.principal import Principal
from graphql_api.domain import events as ev
from claude_agent_sdk import ClaudeSDKClient, ClaudeAgentOptions, AssistantMessage

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"): return int(line.split()[1]) / 1024

async def cli_alone(tmp):
    opts = ClaudeAgentOptions(cli_path=standin_cli_path(), cwd=tmp, env={"CLAUDE_CONFIG_DIR": tmp})
    t = time.perf_counter()
    c = ClaudeSDKClient(opts); await c.connect(); await c.query("hello")
    async for m in c.receive_response():
        if isinstance(m, AssistantMessage):
            d = time.perf_counter() - t; break
    await c.disconnect()
    return d

async def main(url):
    await upgrade_to_head(url)
    s = Services.create(make_settings(url)); await s.start()
    k = await s.api_keys.create("m"); p = Principal(k.row["id"], "m", False)
    tmp = tempfile.mkdtemp()
    cli = [await cli_alone(tmp) for _ in range(50)]
    server = []
    for _ in range(50):
        x = await s.sessions.create(p, {})
        sub = await s.broker.subscribe(ev.session_channel(x.id))
        t = time.perf_counter()
        await s.turns.send_message(p, x.id, "hello")
        async for e in sub:
            if e["type"] == "MessageAdded" and e["message"]["role"] == "ASSISTANT":
                server.append(time.perf_counter() - t); break
        await sub.close()
        await asyncio.sleep(0.05)
    print(f"CLI alone (connect+query->first assistant) p50 {statistics.median(cli)*1000:.1f} ms")
    print(f"server sendMessage->first stored assistant message p50 {statistics.median(server)*1000:.1f} ms p90 {statistics.quantiles(server, n=10)[-1]*1000:.1f} ms")
    print(f"server overhead p50 {(statistics.median(server)-statistics.median(cli))*1000:.1f} ms")
    await asyncio.sleep(1)
    import gc; gc.collect()
    base = rss()
    xs = [await s.sessions.create(p, {}) for _ in range(20)]
    for x in xs:
        await s.turns.send_message(p, x.id, "!slow 2000 0.05")
    await asyncio.sleep(3)
    running = len(s.runner.running)
    gc.collect()
    print(f"server RSS idle {base:.1f} MiB, with {running} running turns {rss():.1f} MiB -> {(rss()-base)/max(running,1)*1024:.0f} KiB per running turn (CLI processes excluded)")
    await s.close()

asyncio.run(main(sys.argv[1]))
