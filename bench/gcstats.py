"""Garbage-collection pauses of a `bench.serve product` server in a time window (see
bench/serve.py: the server writes its totals to $BENCH_GC_LOG on SIGUSR1)."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import table


def log_path(port_hint: str) -> Path:
    return Path(tempfile.gettempdir()) / f"bench-gc-{port_hint}-{os.getpid()}.json"


def snapshot(pid: int, path: Path, timeout: float = 3.0) -> dict[str, Any] | None:
    """The server's GC totals now (None if it does not write them)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    asked = time.monotonic()
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_mtime_ns != before:
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                data = None
            if data is not None and data["at"] >= asked - 0.01:
                return data
        time.sleep(0.02)
    return None


def window(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """What happened between two snapshots: collections and pause time per generation, and
    the worst single pause."""
    if a is None or b is None:
        return None
    pauses = [p for p in b["pauses"] if a["at"] < p[0] <= b["at"]]
    return {
        "count": [y - x for x, y in zip(a["count"], b["count"], strict=True)],
        "total_s": [y - x for x, y in zip(a["total_s"], b["total_s"], strict=True)],
        "gen2_max_s": max((p[2] for p in pauses if p[1] == 2), default=0.0),
        "max_s": max((p[2] for p in pauses), default=0.0),
        "tracked_objects": b["tracked_objects"],
        "frozen": b["frozen"],
        "seconds": b["at"] - a["at"],
    }


def describe(w: dict[str, Any] | None) -> str:
    if w is None:
        return "GC: not measured (plain server)"
    rows = [
        [f"gen {g}", w["count"][g], f"{w['total_s'][g] * 1000:,.0f}",
         f"{w['total_s'][g] / w['seconds']:.1%}" if w["seconds"] else "-"]
        for g in range(3)
    ]  # fmt: skip
    text = table(["collections", "count", "pause ms total", "share of wall time"], rows)
    return (
        f"{text}worst pause {w['max_s'] * 1000:.0f} ms (gen 2: {w['gen2_max_s'] * 1000:.0f} ms); "
        f"{w['tracked_objects']:,} objects tracked; frozen: {w['frozen']}"
    )
