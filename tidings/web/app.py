"""``create_app(settings)``: the FastAPI application. Nothing connects until it starts.

Routers live in ``tidings.web.routes``, one per resource; each route declares who may call it
(``tidings.web.deps``), and the app refuses to build with a route that does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from tidings import __version__
from tidings.config import Settings
from tidings.store.db import make_engine, make_session_factory
from tidings.web.deps import NotSignedIn, check_declared
from tidings.web.limits import BodyLimit
from tidings.web.pages import WEB_DIR, render
from tidings.web.routes.auth import auth_router
from tidings.web.routes.cases import cases_router
from tidings.web.routes.dashboard import dashboard_router
from tidings.web.routes.deadletters import deadletters_router
from tidings.web.routes.docs import DOCS_STATIC, DOCS_STATIC_URL, docs_router
from tidings.web.routes.health import health_router
from tidings.web.routes.killswitch import killswitch_router
from tidings.web.routes.queue import queue_router
from tidings.web.routes.templates import templates_router
from tidings.web.routes.tracking import tracking_router
from tidings.web.routes.unsubscribe import unsubscribe_router
from tidings.web.routes.users import users_router
from tidings.web.routes.webhooks import webhooks_router
from tidings.web.security import SecurityHeaders

# Paths machines call: errors stay JSON there, whatever the client accepts.
MACHINE_PREFIXES = ("/api/", "/webhooks/", "/metrics", "/openapi.json", "/healthz", "/readyz")


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the app for these settings; pass ``engine`` to share one (the demo, tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        bound = engine or make_engine(settings.database_url)
        app.state.sessions = make_session_factory(bound)
        app.state.read_sessions = make_session_factory(bound, read_only=True)
        yield
        if own_engine:
            bound.dispose()

    # The docs routes are our own (tidings.web.routes.docs): signed in, offline, under a CSP.
    app = FastAPI(
        title="Tidings",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    # The last added is the outermost: security headers go on every answer, the body limit's
    # 413 too, and the body limit sees a request before anything reads its body.
    app.add_middleware(BodyLimit, max_bytes=settings.web.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.mount(DOCS_STATIC_URL, StaticFiles(directory=DOCS_STATIC), name="static-offline-docs")
    for router in (
        auth_router(),
        dashboard_router(),
        deadletters_router(),
        queue_router(),
        cases_router(settings),
        users_router(),
        killswitch_router(),
        templates_router(),
        health_router(),
        webhooks_router(settings),
        tracking_router(settings),
        unsubscribe_router(),
        docs_router(app),
    ):
        app.include_router(router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    check_declared(app.routes)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """JSON for machines; for people, the login page when signed out and a page otherwise."""
    if not isinstance(exc, StarletteHTTPException):  # registered for these only
        raise exc
    if request.url.path.startswith(MACHINE_PREFIXES) or not _wants_html(request):
        return await http_exception_handler(request, exc)
    if isinstance(exc, NotSignedIn):
        target = "/login" if request.url.path == "/" else f"/login?next={request.url.path}"
        if "HX-Request" in request.headers:  # htmx would swap the login page into a panel
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    return render(
        request,
        "error.html",
        {"status": exc.status_code, "detail": exc.detail},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _wants_html(request: Request) -> bool:
    return "HX-Request" in request.headers or "text/html" in request.headers.get("accept", "")
