"""Server-rendered pages: the Jinja2 templates, the navigation by role, and ``render``.

Every page extends ``base.html``, which shows the navigation the signed-in user's role allows
and carries the session's CSRF token for htmx (``hx-headers`` on ``<body>``) and forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tidings import __version__
from tidings.store.enums import Role

WEB_DIR = Path(__file__).parent
# Autoescaped: Starlette turns escaping on for .html templates.
TEMPLATES = Jinja2Templates(directory=str(WEB_DIR / "templates"))


@dataclass(frozen=True)
class NavItem:
    """One link in the top navigation, shown to these roles."""

    label: str
    path: str
    roles: frozenset[Role]


# Later pages (the review queue for ops, the template editor for brand managers) add theirs here.
NAV: list[NavItem] = [
    NavItem("Dashboard", "/", frozenset(Role)),
    NavItem("Review queue", "/queue", frozenset({Role.OPS, Role.ADMIN})),
    NavItem("Templates", "/templates", frozenset({Role.BRAND_MANAGER, Role.ADMIN})),
    NavItem("Users", "/users", frozenset({Role.ADMIN})),
    NavItem("Kill switch", "/killswitch", frozenset({Role.ADMIN})),
    NavItem("API", "/docs", frozenset(Role)),
]


def nav_for(role: Role | None) -> list[NavItem]:
    """The links a role sees."""
    return [item for item in NAV if role is not None and role in item.roles]


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page (or an htmx fragment) with the signed-in user, navigation and CSRF token."""
    me = getattr(request.state, "principal", None)
    base = {
        "me": me,
        "nav": nav_for(me.role if me else None),
        "csrf_token": me.csrf_token if me else None,
        "version": __version__,
        "path": request.url.path,
    }
    return TEMPLATES.TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code, headers=headers
    )
