"""``create_app(settings)``: the FastAPI application. Nothing connects until it starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text

from tidings import __version__
from tidings.channels.webhooks import webhooks_router
from tidings.config import Settings
from tidings.metrics import QUEUE_ROWS
from tidings.store.base import utcnow
from tidings.store.db import make_engine, make_session_factory
from tidings.store.migrate import current_revision
from tidings.web.common import TEMPLATES, ReadSessionDep
from tidings.web.limits import BodyLimit
from tidings.web.queue import QueueHealth, needs_attention, queue_health
from tidings.web.routes.tracking import tracking_router
from tidings.web.unsubscribe import unsubscribe_router
from tidings.wismo.report import metrics as wismo_metrics


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the app for these settings; pass ``engine`` to share one (the demo, tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        bound = engine or make_engine(settings.database_url)
        app.state.sessions = make_session_factory(bound)  # for routes that write (webhooks)
        app.state.read_sessions = make_session_factory(bound, read_only=True)
        yield
        if own_engine:
            bound.dispose()

    # /docs and /redoc with Swagger UI and ReDoc served by the app itself, not from a CDN:
    # they work offline and behind firewalls.
    app = FastAPIOffline(title="Tidings", version=__version__, lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=settings.web.max_body_bytes)
    app.include_router(webhooks_router(settings))
    app.include_router(unsubscribe_router())
    app.include_router(tracking_router(settings))

    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, session: ReadSessionDep) -> HTMLResponse:
        """Live queue health, refreshed every few seconds."""
        health = queue_health(session)
        return TEMPLATES.TemplateResponse(
            request,
            "dashboard.html",
            {"health": health, "attention": needs_attention(health), "version": __version__},
        )

    @app.get("/api/queue")
    def api_queue(session: ReadSessionDep) -> QueueHealth:
        """Queue health as JSON."""
        return queue_health(session)

    @app.get("/healthz")
    def healthz(session: ReadSessionDep) -> JSONResponse:
        """Liveness and database reachability, for load balancers."""
        session.execute(text("SELECT 1"))
        revision = current_revision(session.connection())
        return JSONResponse({"status": "ok", "schema": revision, "version": __version__})

    @app.get("/metrics")
    def metrics(session: ReadSessionDep) -> Response:
        """Prometheus metrics, with queue depths read now."""
        health = queue_health(session)
        QUEUE_ROWS.clear()  # states that emptied since the last scrape must read 0, not linger
        for table, counts in (
            ("emails", health.emails),
            ("cases", health.cases),
            ("notifications", health.notifications),
        ):
            for state, count in counts.items():
                QUEUE_ROWS.labels(table=table, state=state).set(count)
        body = generate_latest() + wismo_metrics(session, utcnow())  # proactive WISMO's figures
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
