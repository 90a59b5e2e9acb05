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
        "cpu_s": [y - x for x, y in zip(a.get("cpu_s", [0] * 3), b.get("cpu_s", [0] * 3), strict=True)],
        "gen2_max_s": max((p[2] for p in pauses if p[1] == 2), default=0.0),
        "max_s": max((p[2] for p in pauses), default=0.0),
        "tracked_objects": b["tracked_objects"],
        "frozen": b["frozen"],
        "seconds": b["at"] - a["at"],
    }


def describe(w: dict[str, Any] | None) -> str:
    if w is None:
        return "not measured (plain server)"
    rows = [
        [f"gen {g}", w["count"][g], f"{w['total_s'][g] * 1000:,.0f}", f"{w['cpu_s'][g] * 1000:,.0f}",
         f"{w['total_s'][g] / w['seconds']:.1%}" if w["seconds"] else "-"]
        for g in range(3)
    ]  # fmt: skip
    text = table(["collections", "count", "pause ms (wall)", "of it CPU ms", "share of wall time"], rows)
    return (
        f"\n{text}worst pause {w['max_s'] * 1000:.0f} ms (gen 2: {w['gen2_max_s'] * 1000:.0f} ms); "
        f"{w['tracked_objects']:,} objects tracked; frozen: {w['frozen']}"
    )


def allocation_snapshot(pid: int, path: Path, index: int, timeout: float = 120.0) -> Path | None:
    """Ask a BENCH_TRACEMALLOC server for its `index`-th tracemalloc snapshot; its file."""
    target = Path(f"{path}.{index}.snap")
    os.kill(pid, signal.SIGWINCH)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.exists():
            return target
        time.sleep(0.1)
    return None


def allocation_growth(
    before: Path, after: Path, per: int, unit: str = "subscription", top: int = 15
) -> str:
    """Where memory grew between two snapshots: by package and by line, in KB per `per`
    (`per` of `unit`: subscriptions, deliveries)."""
    import tracemalloc
    from collections import Counter

    old, new = tracemalloc.Snapshot.load(str(before)), tracemalloc.Snapshot.load(str(after))
    stats = new.compare_to(old, "lineno")
    by_package: Counter[str] = Counter()
    for stat in stats:
        by_package[_package(stat.traceback[0].filename)] += stat.size_diff
    total = sum(stat.size_diff for stat in stats)
    packages = table(
        ["package (allocating line's file)", f"KB per {unit}", "share"],
        [[name, f"{size / 1024 / per:.1f}", f"{size / total:.0%}" if total else "-"]
         for name, size in by_package.most_common(12)],
        title=f"tracemalloc: growth {total / 1024 / 1024:.1f} MiB = {total / 1024 / per:.2f} KB per {unit}",
    )  # fmt: skip
    lines = table(
        ["allocating line", f"KB per {unit}", f"blocks per {unit}"],
        [[f"{_short(stat.traceback[0].filename)}:{stat.traceback[0].lineno}",
          f"{stat.size_diff / 1024 / per:.2f}", f"{stat.count_diff / per:.1f}"]
         for stat in sorted(stats, key=lambda s: -s.size_diff)[:top]],
    )  # fmt: skip
    return packages + "\n" + lines


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _package(filename: str) -> str:
    short = _short(filename)
    if short.startswith("graphql_api/"):
        return "/".join(short.split("/")[:2])
    if "/" not in short:
        return f"stdlib {short}"
    head = short.split("/")[0]
    return head if head != "asyncio" else "stdlib asyncio"
