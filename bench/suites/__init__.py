"""The suites: name -> module. A suite module has `SUMMARY`, `add_arguments(parser)` and
`run(args) -> dict` (the figures it printed, also written as JSON with --json)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Suite:
    name: str
    module: str
    summary: str
    #: Why the suite cannot run yet (a part it needs is not built), or None.
    waiting_for: str | None = None

    def load(self) -> ModuleType:
        return importlib.import_module(f"bench.suites.{self.module}")


SUITES: tuple[Suite, ...] = (
    Suite(
        "n-plus-one", "n_plus_one", "nested page: SQL statements and latency vs per-parent loading"
    ),
    Suite(
        "throughput", "throughput", "session(id) and the nested page over HTTP under wrk, c=1/10/50"
    ),
    Suite("pagination-depth", "pagination_depth", "page 1 vs deep pages: keyset vs OFFSET"),
    Suite(
        "tenant-filter", "tenant_filter", "a key's newest sessions among 100,000: plan and latency"
    ),
    Suite("ab", "ab", "this checkout against another (--b PATH), interleaved in one run"),
    Suite(
        "subscriptions",
        "subscriptions",
        "websocket fan-out: delivery latency, rate, memory",
    ),
    Suite(
        "turns",
        "turns",
        "100 concurrent turns with the stand-in CLI: server overhead",
    ),
    Suite(
        "scale-out",
        "scale_out",
        "suite 2 through a round-robin over two server processes",
    ),
)

BY_NAME = {suite.name: suite for suite in SUITES}
