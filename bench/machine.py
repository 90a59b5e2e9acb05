"""What the figures were measured on: printed at the top of every suite's output."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "sqlalchemy", "asyncpg")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def describe(postgres_version: str) -> dict[str, str]:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    load = os.getloadavg()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": f"{os.cpu_count()} x {_cpu_model()}",
        "memory": f"{_memory_gib():.1f} GiB",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "postgresql": postgres_version,
        "packages": ", ".join(versions),
        "load average at start": " ".join(f"{x:.2f}" for x in load),
    }


def print_machine(facts: dict[str, str]) -> None:
    print("machine:")
    for key, value in facts.items():
        print(f"  {key + ':':<22} {value}")
    print()
