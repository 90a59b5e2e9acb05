"""`python -m bench.loadgen` < spec.json: the fallback load generator when wrk is missing.

N asyncio clients, each one keep-alive HTTP/1.1 connection sending requests back to back for
a fixed time. Prints {"requests", "seconds", "errors", "timeouts", "p50", ...} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


async def _client(
    spec: dict[str, Any],
    deadline: float,
    latencies: list[float],
    counts: dict[str, int],
    offset: int,
) -> None:
    host, port = spec["url"].removeprefix("http://").split(":")
    bodies = [b.encode() for b in spec["bodies"]] or [b""]
    head = "".join(f"{k}: {v}\r\n" for k, v in spec["headers"].items())
    requests = [
        (f"{spec['method']} {spec['path']} HTTP/1.1\r\nHost: {host}\r\n{head}"
         f"Content-Length: {len(b)}\r\n\r\n").encode() + b
        for b in bodies
    ]  # fmt: skip
    reader, writer = await asyncio.open_connection(host, int(port))
    i = offset
    try:
        while time.perf_counter() < deadline:
            request = requests[i % len(requests)]
            i += 1
            start = time.perf_counter()
            writer.write(request)
            try:
                status_line = await asyncio.wait_for(reader.readline(), spec["timeout"])
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
            except TimeoutError:
                counts["timeouts"] += 1
                return
            latencies.append(time.perf_counter() - start)
            if not status_line.startswith(b"HTTP/1.1 2"):
                counts["errors"] += 1
    finally:
        writer.close()


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    latencies: list[float] = []
    counts = {"errors": 0, "timeouts": 0}
    start = time.perf_counter()
    deadline = start + spec["seconds"]
    await asyncio.gather(
        *(_client(spec, deadline, latencies, counts, i) for i in range(spec["connections"]))
    )
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        **counts,
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": ordered[-1],
    }


if __name__ == "__main__":
    spec = json.loads(sys.stdin.read())
    if uvloop is not None:
        uvloop.install()
    print(json.dumps(asyncio.run(main(spec))))
