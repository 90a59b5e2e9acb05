"""Graceful shutdown: on SIGTERM (or SIGINT) the server drains before uvicorn stops it.

1. Draining: `/readyz` answers 503 (`"status": "draining"`) so the load balancer sends no new
   traffic, while every request is still served; turns are no longer started (`sendMessage`,
   `createSession` with a prompt: `SHUTTING_DOWN`), queued ones stay queued for other instances.
2. Running turns get `SHUTDOWN_DRAIN_SECONDS` to finish; the rest are interrupted (and ended
   after `INTERRUPT_GRACE_SECONDS`), recorded `INTERRUPTED`: nothing is left `RUNNING`.
3. Websockets are closed with 1001 (going away); clients reconnect elsewhere and resume.
4. uvicorn stops: it stops listening, gives open requests up to `OPEN_REQUESTS_SECONDS` (a
   `sendMessage(wait: true)` for a turn still queued, a streamed subscription), and the app's
   lifespan releases the database pool, Redis and the other workers; the process exits.

A second signal cuts this short: running turns are ended at once (still recorded INTERRUPTED)
and open requests get at most `HURRIED_CONNECTIONS_SECONDS`. A third exits without cleanup.

uvicorn's own handling (its `Server.handle_exit`) would stop listening at the first signal, so
`/readyz` could never say "draining": `GracefulServer` only counts signals in the handler and
acts on them from its main loop's tick (every 0.1 s), in the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from graphql_api.services import Services

log = logging.getLogger("graphql_api.shutdown")

OPEN_REQUESTS_SECONDS = 5.0
HURRIED_CONNECTIONS_SECONDS = 2.0


class Shutdown:
    """The drain of one server process (steps 1-3 above)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._hurry = asyncio.Event()

    async def drain(self) -> None:
        services = self.services
        runner = services.runner
        services.draining = True
        runner.accepting = False
        seconds = services.settings.shutdown_drain_seconds
        log.info("draining: %d running turns get up to %s s", len(runner.running), seconds)
        await self._wait_for_turns(seconds)
        if runner.running:
            log.warning("interrupting %d turns still running after the drain", len(runner.running))
        await runner.stop()  # interrupts what still runs; waits for every turn to be recorded
        await services.websockets.close_all()
        log.info("drained")

    async def _wait_for_turns(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            while self.services.runner.running and not self._hurry.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                tasks = [e.task for e in self.services.runner.running.values() if e.task]
                await asyncio.wait(
                    [*tasks, hurry], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            hurry.cancel()

    def hurry(self) -> None:
        """End the drain now: running turns are cancelled (recorded INTERRUPTED)."""
        if self._hurry.is_set():
            return
        self._hurry.set()
        self.services.draining = True
        self.services.runner.accepting = False
        for execution in list(self.services.runner.running.values()):
            execution.shutting_down = True
            if execution.task is not None:
                execution.task.cancel()


class GracefulServer(uvicorn.Server):
    """uvicorn's server, draining first (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, shutdown: Shutdown) -> None:
        super().__init__(config)
        self.shutdown_plan = shutdown
        self.exit_requests = 0
        self._drain: asyncio.Task[None] | None = None
        self._hurried = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: only note the request; `on_tick` acts on it in the event loop.
        self._captured_signals.append(sig)
        self.exit_requests += 1
        if self.exit_requests >= 3:
            self.should_exit = self.force_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self.exit_requests and self._drain is None:
            log.info("shutdown requested: draining (signal again to hurry)")
            self._drain = asyncio.create_task(self.shutdown_plan.drain(), name="drain")
        if self.exit_requests >= 2 and not self._hurried:
            log.warning("shutdown hurried: ending running turns now")
            self._hurried = True
            self.shutdown_plan.hurry()
            timeout = self.config.timeout_graceful_shutdown or HURRIED_CONNECTIONS_SECONDS
            self.config.timeout_graceful_shutdown = min(timeout, HURRIED_CONNECTIONS_SECONDS)
        if self._drain is not None and self._drain.done():
            if not self._drain.cancelled() and self._drain.exception() is not None:
                log.error("the drain failed", exc_info=self._drain.exception())
            self.should_exit = True
        return await super().on_tick(counter)


def serve(app: Any, services: Services, **config: Any) -> None:
    """Like `uvicorn.run(app, **config)`, with the graceful shutdown."""
    config.setdefault("timeout_graceful_shutdown", OPEN_REQUESTS_SECONDS)
    server = GracefulServer(uvicorn.Config(app, **config), Shutdown(services))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn raises the captured SIGINT again once it stopped
        pass
    if not server.started:
        sys.exit(STARTUP_FAILURE)
