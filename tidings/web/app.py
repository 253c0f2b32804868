"""``create_app(settings)``: the FastAPI application. Nothing connects until it starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tidings import __version__
from tidings.config import Settings
from tidings.store.db import SessionFactory, make_engine, make_session_factory
from tidings.store.migrate import current_revision
from tidings.web.queue import QueueHealth, needs_attention, queue_health

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _session(request: Request) -> Any:
    factory: SessionFactory = request.app.state.sessions
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]


def create_app(settings: Settings, *, session_factory: SessionFactory | None = None) -> FastAPI:
    """Build the app for these settings; pass ``session_factory`` to share an engine."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if session_factory is None:
            engine = make_engine(settings.database_url)
            app.state.sessions = make_session_factory(engine)
        else:
            app.state.sessions = session_factory
        yield
        if engine is not None:
            engine.dispose()

    app = FastAPI(title="Tidings", version=__version__, lifespan=lifespan)

    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request, session: SessionDep) -> HTMLResponse:
        """Live queue health, refreshed every few seconds."""
        health = queue_health(session)
        return TEMPLATES.TemplateResponse(
            request,
            "dashboard.html",
            {"health": health, "attention": needs_attention(health), "version": __version__},
        )

    @app.get("/api/queue")
    def api_queue(session: SessionDep) -> QueueHealth:
        """Queue health as JSON."""
        return queue_health(session)

    @app.get("/healthz")
    def healthz(session: SessionDep) -> JSONResponse:
        """Liveness and database reachability, for load balancers."""
        session.execute(text("SELECT 1"))
        revision = current_revision(session.get_bind())  # type: ignore[arg-type]
        return JSONResponse({"status": "ok", "schema": revision, "version": __version__})

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
