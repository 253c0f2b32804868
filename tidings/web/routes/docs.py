"""The API docs, offline: Swagger UI at ``/docs`` and ReDoc at ``/redoc`` from the files that
fastapi-offline ships (no CDN), and ``/openapi.json``; for signed-in users.

Swagger UI starts from an inline script, which the app-wide policy forbids; these two pages get
a policy that allows exactly that script, by its hash, and the inline styles the viewers use.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from tidings.web.deps import CurrentUser, PageUser
from tidings.web.security import CSP

DOCS_STATIC = Path(fastapi_offline.__file__).parent / "static"
DOCS_STATIC_URL = "/static-offline-docs"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_router(app: FastAPI) -> APIRouter:
    """``/docs``, ``/redoc`` and ``/openapi.json`` for ``app``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    def openapi(_user: CurrentUser) -> JSONResponse:
        """The OpenAPI document."""
        return JSONResponse(app.openapi())

    @router.get("/docs", response_class=HTMLResponse)
    def swagger(request: Request, _user: PageUser) -> HTMLResponse:
        """Swagger UI."""
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC_URL}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            oauth2_redirect_url=None,
        )
        return _with_script_hashes(page)

    @router.get("/redoc", response_class=HTMLResponse)
    def redoc(request: Request, _user: PageUser) -> HTMLResponse:
        """ReDoc."""
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            redoc_js_url=f"{DOCS_STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.svg",
            with_google_fonts=False,
        )
        return _with_script_hashes(page)

    return router


def _with_script_hashes(page: HTMLResponse) -> HTMLResponse:
    """Allow this page's own inline scripts (by hash) and inline styles, nothing more."""
    body = bytes(page.body).decode()
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(body)
    )
    policy = CSP.replace("script-src 'self'", f"script-src 'self' {hashes}").replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    )
    page.headers["Content-Security-Policy"] = policy
    return page
