"""A load generator in a process of its own: wrk (with a Lua script for POST bodies), or,
where wrk is missing, `python -m bench.loadgen` (asyncio keep-alive HTTP/1.1 clients)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = r"""
local bodies = {%(bodies)s}
local path = "%(path)s"
local i = 0
wrk.method = "%(method)s"
%(headers)s
if #bodies == 1 then wrk.body = bodies[1] end
if #bodies > 1 then
  request = function()
    i = i %% #bodies + 1
    return wrk.format(nil, path, nil, bodies[i])
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%%d,"duration_us":%%d,"errors":%%d,"timeouts":%%d,' ..
    '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    timeouts: int
    p50: float
    p90: float
    p99: float
    max: float
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    level = "=" * 4
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_load(
    url: str,
    *,
    path: str,
    method: str = "GET",
    bodies: list[bytes] | None = None,
    headers: dict[str, str] | None = None,
    connections: int,
    seconds: float,
    timeout: float = 60.0,
    tool: str = "auto",
) -> LoadResult:
    """Keep `connections` requests in flight for `seconds`; latency percentiles in seconds."""
    bodies = bodies or []
    headers = headers or {}
    if tool == "wrk" or (tool == "auto" and have_wrk()):
        return _wrk(url, path, method, bodies, headers, connections, seconds, timeout)
    return _python(url, path, method, bodies, headers, connections, seconds, timeout)


def _wrk(
    url: str,
    path: str,
    method: str,
    bodies: list[bytes],
    headers: dict[str, str],
    connections: int,
    seconds: float,
    timeout: float,
) -> LoadResult:
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    script = LUA % {
        "bodies": ", ".join(_lua_string(b.decode()) for b in bodies),
        "path": path,
        "method": method,
        "headers": header_lines,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             f"--timeout={max(1, round(timeout))}s", "-s", f.name, url + path],
            check=False, capture_output=True, text=True, timeout=seconds + timeout + 30,
        )  # fmt: skip
    finally:
        Path(f.name).unlink(missing_ok=True)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[6:])
    return LoadResult(
        requests=data["requests"], seconds=data["duration_us"] / 1e6, errors=data["errors"],
        timeouts=data["timeouts"], p50=data["p50_us"] / 1e6, p90=data["p90_us"] / 1e6,
        p99=data["p99_us"] / 1e6, max=data["max_us"] / 1e6, tool="wrk",
    )  # fmt: skip


def _python(
    url: str,
    path: str,
    method: str,
    bodies: list[bytes],
    headers: dict[str, str],
    connections: int,
    seconds: float,
    timeout: float,
) -> LoadResult:
    spec = {
        "url": url,
        "path": path,
        "method": method,
        "bodies": [b.decode() for b in bodies],
        "headers": headers,
        "connections": connections,
        "seconds": seconds,
        "timeout": timeout,
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"], input=json.dumps(spec), check=False,
        capture_output=True, text=True, timeout=seconds + timeout + 30,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"bench.loadgen failed:\n{out.stderr}")
    return LoadResult(**json.loads(out.stdout), tool="python")
