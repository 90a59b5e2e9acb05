"""py-spy against a server process: record while load runs, then say where the time went.

Two views of the same samples: self time by layer (which package's code was on top of the
stack), and the heaviest functions by self and by inclusive time.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.report import table

PY_SPY = str(Path(sys.executable).parent / "py-spy")

# (layer, substring of the frame's file path); first match wins.
LAYERS: tuple[tuple[str, str], ...] = (
    ("graphql-core execute", "graphql/execution/"),
    ("graphql-core validate", "graphql/validation/"),
    ("graphql-core parse", "graphql/language/"),
    ("graphql-core other", "graphql/"),
    ("strawberry", "strawberry/"),
    ("aiodataloader", "aiodataloader"),
    ("sqlalchemy", "sqlalchemy/"),
    ("asyncpg", "asyncpg/"),
    ("app: graphql_api.api", "graphql_api/api/"),
    ("app: graphql_api.store", "graphql_api/store/"),
    ("app: graphql_api other", "graphql_api/"),
    ("bench baseline code", "bench/"),
    ("pydantic", "pydantic"),
    ("uvicorn/httptools", "uvicorn/"),
    ("websockets (framing, permessage-deflate)", "websockets/"),
    ("redis-py", "redis/"),
    ("claude-agent-sdk", "claude_agent_sdk/"),
    ("anyio", "anyio/"),
    ("starlette", "starlette/"),
    ("json", "json/"),
    ("asyncio/uvloop", "asyncio/"),
    ("asyncio/uvloop", "uvloop/"),
    ("stdlib other", "/lib/python3"),
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")


@dataclass
class Profile:
    samples: int
    by_layer: Counter[str]
    self_time: Counter[str]
    inclusive: Counter[str]

    def report(self, title: str, top: int = 15) -> str:
        n = max(self.samples, 1)
        layers = table(
            ["layer (self time)", "share"],
            [[name, f"{count / n:.1%}"] for name, count in self.by_layer.most_common()],
            title=f"{title}: {self.samples} samples, self time by layer",
        )
        selfs = table(
            ["function (self time)", "share"],
            [[name, f"{count / n:.1%}"] for name, count in self.self_time.most_common(top)],
        )
        incl = table(
            ["function (inclusive, app and library entry points)", "share"],
            [[name, f"{count / n:.1%}"] for name, count in self.inclusive.most_common(top)],
        )
        return f"{layers}\n{selfs}\n{incl}"


def layer_of(file: str) -> str:
    for name, marker in LAYERS:
        if marker in file:
            return name
    return "other (C / unknown)"


def short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['func']} ({file})"


def parse(
    raw_path: Path,
    inclusive_markers: tuple[str, ...] = (
        "graphql_api/",
        "bench/",
        "graphql/",
        "strawberry/",
        "sqlalchemy/",
        "json/",
        "asyncpg/",
        "starlette/",
        "uvicorn/",
    ),
) -> Profile:
    by_layer: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        # py-spy's first frame names the process/thread; keep Python frames only
        frames = [f for f in frames if _FRAME.match(f)]
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        match = _FRAME.match(leaf)
        by_layer[layer_of(match["file"] if match else "")] += count
        self_time[short(leaf)] += count
        seen = set()
        for frame in frames:
            m = _FRAME.match(frame)
            if m and any(marker in m["file"] for marker in inclusive_markers):
                name = short(frame)
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += count
    return Profile(total, by_layer, self_time, inclusive)


class Recording:
    """`py-spy record` of one process for a fixed time, in raw (collapsed) format."""

    def __init__(self, pid: int, seconds: float, out: Path, rate: int = 200) -> None:
        self.out = out
        self.process = subprocess.Popen(
            [PY_SPY, "record", "--pid", str(pid), "--duration", str(int(seconds)),
             "--rate", str(rate), "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def finish(self) -> Profile:
        _, err = self.process.communicate(timeout=120)
        if self.process.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
        return parse(self.out)
