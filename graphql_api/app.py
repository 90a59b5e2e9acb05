"""The ASGI application: /graphql, /healthz, /readyz, and the process's start and stop."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from graphql_api.api.view import GraphQLView
from graphql_api.observability.metrics import CONTENT_TYPE, CountedWebsockets
from graphql_api.services import Services
from graphql_api.settings import Settings, get_settings

log = logging.getLogger("graphql_api")


def settle_garbage_collector() -> None:
    """Move start-up objects out of the collector's reach and collect less often: with many
    live objects (subscriptions, loaded rows) full collections otherwise stall requests."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """The app; tests pass their own `services` to share one database across apps."""
    if services is None:
        services = Services.create(settings or get_settings())
    settings = services.settings
    graphql = GraphQLView(services)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services.db.is_sqlite:
            from graphql_api.store.migrate import upgrade_to_head

            await upgrade_to_head(settings.database_url)
        await services.start()
        first = await services.api_keys.ensure_first_admin()
        if first is not None:
            print(
                "Created the first admin API key (shown only once; store it now):\n"
                f"  {first.secret}",
                flush=True,
            )
        settle_garbage_collector()
        try:
            yield
        finally:
            await services.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        if services.draining:  # shutting down: still serving, but send new traffic elsewhere
            return JSONResponse({"status": "draining", "checks": {}}, status_code=503)
        checks = {"database": "ok"}
        try:
            await services.db.ping()
        except Exception:  # noqa: BLE001 - readiness reports, it does not explain
            log.warning("readiness: database did not answer", exc_info=True)
            checks["database"] = "unavailable"
        if services.settings.redis_url:
            checks["redis"] = "ok"
            try:
                await services.broker.ping()
            except Exception:  # noqa: BLE001
                log.warning("readiness: redis did not answer", exc_info=True)
                checks["redis"] = "unavailable"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics(request: Request) -> Response:
        await services.metrics.refresh(services)
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute(
                "/graphql",
                services.websockets.track(
                    CountedWebsockets(graphql, services.metrics.websockets_open)
                ),
            ),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *([Route("/metrics", metrics)] if settings.metrics_enabled else []),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
