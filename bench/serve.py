"""`python -m bench.serve <variant> --port P`: a server under uvicorn, configured like
`graphql-api serve` (same settings from the environment, same uvicorn options).

Variants:
- naive: the N+1 baselines of suite 1 (bench/naive.py).
- product: the product itself, started through its own CLI (`graphql_api.cli.main(["serve"])`),
  with garbage-collection instrumentation that the product lacks: every collection's pause is
  timed by a `gc.callbacks` hook (about 1 µs per collection; wall time, and the thread's CPU
  time, which leaves out time the process was not scheduled), and on SIGUSR1 the totals so far
  are written as JSON to $BENCH_GC_LOG. On SIGUSR2 the process runs `gc.collect(); gc.freeze()`
  and, with $BENCH_GC_THRESHOLD="a,b,c", `gc.set_threshold(a, b, c)`: the prototype of the
  "freeze after start-up" fix, applied once the suite knows start-up is over.
  With $BENCH_TRACEMALLOC=<frames>, on SIGWINCH a tracemalloc snapshot is dumped to
  $BENCH_GC_LOG.<n>.snap (n = 0, 1, ...); tracing starts at the first one (it slows the
  server: memory figures only).
  With $BENCH_PATCH=name[,name], prototypes of fixes are applied first (PATCHES below).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import time
from collections import deque
from pathlib import Path
from typing import Any

VARIANTS = ("naive", "product")


class GcTimer:
    """Pause time per generation, and the worst pauses, since the process started."""

    def __init__(self) -> None:
        self.started = 0.0
        self.started_cpu = 0.0
        self.cpu = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self.total = [0.0, 0.0, 0.0]
        self.max = [0.0, 0.0, 0.0]
        self.collected = [0, 0, 0]
        self.frozen = False
        #: (monotonic time at the end, generation, pause) of every collection of generation 1
        #: or 2, and of any that took 2 ms or more
        self.pauses: deque[tuple[float, int, float]] = deque(maxlen=5000)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            self.started_cpu = time.thread_time()
            return
        generation = info["generation"]
        pause = time.perf_counter() - self.started
        self.cpu[generation] += time.thread_time() - self.started_cpu
        self.count[generation] += 1
        self.total[generation] += pause
        self.max[generation] = max(self.max[generation], pause)
        self.collected[generation] += info.get("collected", 0)
        if generation or pause >= 0.002:
            self.pauses.append((time.monotonic(), generation, pause))

    def dump(self, path: str) -> None:
        data = {
            "count": self.count, "total_s": self.total, "cpu_s": self.cpu, "max_s": self.max,
            "collected": self.collected, "frozen": self.frozen or gc.get_freeze_count() > 0,
            "freeze_count": gc.get_freeze_count(), "threshold": gc.get_threshold(),
            "tracked_objects": len(gc.get_objects()), "at": time.monotonic(),
            "pauses": list(self.pauses),
        }  # fmt: skip
        tmp = Path(path + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


def _patch_event_memo() -> None:
    """Prototype of a fix for graphql-core 3.3.2's per-subscription memory growth: the
    per-event executor is a shallow copy (`copy(self)`) that shares `_relevant_sub_fields`,
    the memo of `collect_subfields` keyed by `id()` of each event's fresh field lists, so every
    event of a subscription adds entries that live as long as the subscription. Here each
    event's executor gets a memo of its own."""
    from graphql.execution.executor import Executor

    original = Executor.build_per_event_executor

    def build_per_event_executor(self: Executor, payload: Any) -> Executor:
        executor = original(self, payload)
        executor._relevant_sub_fields = {}
        return executor

    Executor.build_per_event_executor = build_per_event_executor  # type: ignore[method-assign]


PATCHES = {"event-memo": _patch_event_memo}


def _product(port: int) -> None:
    from graphql_api.cli import main as cli

    for name in filter(None, os.environ.get("BENCH_PATCH", "").split(",")):
        PATCHES[name]()

    timer = GcTimer()
    gc.callbacks.append(timer)
    log_path = os.environ.get("BENCH_GC_LOG")
    if log_path:
        signal.signal(signal.SIGUSR1, lambda *_: timer.dump(log_path))

    def freeze(*_: object) -> None:
        gc.collect()
        gc.freeze()
        timer.frozen = True
        threshold = os.environ.get("BENCH_GC_THRESHOLD")
        if threshold:
            gc.set_threshold(*(int(x) for x in threshold.split(",")))

    signal.signal(signal.SIGUSR2, freeze)
    frames = int(os.environ.get("BENCH_TRACEMALLOC") or 0)
    if frames and log_path:
        import tracemalloc

        dumps = iter(range(1_000_000))

        def dump_allocations(*_: object) -> None:
            if not tracemalloc.is_tracing():  # from the first dump on: start-up stays fast
                tracemalloc.start(frames)
            target = f"{log_path}.{next(dumps)}.snap"
            tracemalloc.take_snapshot().dump(target + ".tmp")
            os.replace(target + ".tmp", target)

        signal.signal(signal.SIGWINCH, dump_allocations)
    cli(["serve", "--port", str(port)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.variant == "product":
        _product(args.port)
        return

    import uvicorn

    from graphql_api.services import Services
    from graphql_api.settings import get_settings

    settings = get_settings()
    from bench.naive import build_app

    app = build_app(Services.create(settings))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
