"""What routes share, as ``Annotated`` dependencies: database sessions, settings, the signed-in
user, and the access policy every route declares.

Each route declares exactly one ``Access``: ``PUBLIC`` or a set of roles (``require_role``).
``create_app`` refuses to build an app with a route that declares none, and
tests/test_web_access.py calls every route as every kind of caller.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from tidings.auth.keys import same
from tidings.auth.sessions import SessionLimits, find_session, touch_session
from tidings.auth.tokens import find_token, needs_touch, touch_token
from tidings.config import Settings
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import Role
from tidings.store.models import User
from tidings.web.security import SAFE_METHODS, SESSION_COOKIE, csrf_sent

EVERY_ROLE = frozenset(Role)
# Shows an "Authorize" button in /docs; the dependency itself reads the header.
BEARER = HTTPBearer(auto_error=False, description="an API token from `tidings tokens create`")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user (``session``) or a machine with a token (``token``)."""

    user_id: int
    name: str
    role: Role
    brands: tuple[str, ...]
    via: Literal["session", "token"]
    csrf_token: str | None = None

    def has(self, *roles: Role) -> bool:
        """Whether the caller has one of these roles."""
        return self.role in roles


class NotSignedIn(HTTPException):
    """401: no valid session or token. Pages answer it with a redirect to the login page."""

    def __init__(self, detail: str = "not signed in: log in, or send an API token") -> None:
        super().__init__(401, detail, {"WWW-Authenticate": "Bearer"})


class Forbidden(HTTPException):
    """403: signed in, but this role may not do this (or the form's CSRF token is wrong)."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, f"forbidden: {detail}")


@dataclass(frozen=True)
class Access:
    """A route's access policy, and the dependency that enforces it: ``public`` routes are open
    to anyone; the others need a session (or, where ``tokens``, an API token) of one of
    ``roles``. A cookie session's state-changing request must carry its CSRF token."""

    roles: frozenset[Role] = field(default_factory=frozenset)
    public: bool = False
    tokens: bool = True

    async def __call__(
        self,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> Principal | None:
        if self.public:
            return None
        token = bearer.credentials if bearer and self.tokens else None
        principal = await run_in_threadpool(_identify, request, token)
        if principal is None:
            raise NotSignedIn()
        request.state.principal = principal  # the page layout shows who is signed in
        if principal.role not in self.roles:
            raise Forbidden(f"a {principal.role.value} user may not use {request.url.path}")
        if principal.via == "session" and request.method not in SAFE_METHODS:
            sent = await csrf_sent(request)
            if not sent or not same(sent, principal.csrf_token or ""):
                raise Forbidden("the form's CSRF token is missing or stale: reload the page")
        return principal

    def describe(self) -> str:
        """The policy in words, for error messages and the access test."""
        if self.public:
            return "public"
        roles = ", ".join(sorted(role.value for role in self.roles))
        return f"{roles}{' (tokens too)' if self.tokens else ' (browser sessions only)'}"


PUBLIC = Access(public=True)


def require_role(*roles: Role, tokens: bool = True) -> Access:
    """The policy for routes open to these roles (none given: every signed-in role)."""
    return Access(roles=frozenset(roles) or EVERY_ROLE, tokens=tokens)


SIGNED_IN = require_role()
PAGE_SIGNED_IN = require_role(tokens=False)
ADMIN = require_role(Role.ADMIN)
PAGE_ADMIN = require_role(Role.ADMIN, tokens=False)
OPS_OR_ADMIN = require_role(Role.OPS, Role.ADMIN)
PAGE_OPS_OR_ADMIN = require_role(Role.OPS, Role.ADMIN, tokens=False)

CurrentUser = Annotated[Principal, Depends(SIGNED_IN)]
AdminUser = Annotated[Principal, Depends(ADMIN)]
OpsOrAdmin = Annotated[Principal, Depends(OPS_OR_ADMIN)]
PageUser = Annotated[Principal, Depends(PAGE_SIGNED_IN)]
PageAdmin = Annotated[Principal, Depends(PAGE_ADMIN)]
PageOpsOrAdmin = Annotated[Principal, Depends(PAGE_OPS_OR_ADMIN)]


@dataclass(frozen=True)
class DeclaredRoute:
    """A route as the app will serve it, with every ``Access`` it declares (router, route and
    parameter dependencies alike); ``api`` is false for mounts (static files)."""

    path: str
    methods: frozenset[str]
    access: tuple[Access, ...]
    api: bool


def declared_routes(routes: Sequence[BaseRoute]) -> list[DeclaredRoute]:
    """Every route of an app (``app.routes``), through included routers."""
    found = []
    for context in iter_route_contexts(routes):
        if not isinstance(context.original_route, APIRoute):
            found.append(DeclaredRoute(str(context.path), frozenset(), (), api=False))
            continue
        access: list[Access] = []
        pending = list(context.dependant.dependencies)
        while pending:
            dependant = pending.pop()
            if isinstance(dependant.call, Access) and dependant.call not in access:
                access.append(dependant.call)
            pending.extend(dependant.dependencies)
        methods = frozenset(context.methods or ())
        found.append(DeclaredRoute(str(context.path), methods, tuple(access), api=True))
    return found


def check_declared(routes: Sequence[BaseRoute]) -> None:
    """Refuse an app with a route that declares no policy, or two: a new route must say who
    may call it before the app starts."""
    for route in declared_routes(routes):
        if route.api and len(route.access) != 1:
            methods = ",".join(sorted(route.methods))
            raise RuntimeError(
                f"route {methods} {route.path} declares {len(route.access)} access policies: "
                "give it exactly one (PUBLIC, or require_role(...) from tidings.web.deps)"
            )


def app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


def read_sessions(request: Request) -> SessionFactory:
    """The app's read-only session factory (on SQLite it never waits for writers)."""
    factory: SessionFactory = request.app.state.read_sessions
    return factory


def _read_session(request: Request) -> Iterator[Session]:
    with read_sessions(request)() as session:
        yield session


def _write_session(request: Request) -> Iterator[Session]:
    with transaction(write_sessions(request)) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(_read_session)]
# Committed when the route returns, before the response is sent (scope="function"): a client
# never sees success for a change that did not land.
WriteSessionDep = Annotated[Session, Depends(_write_session, scope="function")]


def write_sessions(request: Request) -> SessionFactory:
    """The app's writing session factory, for routes that run their own transactions."""
    factory: SessionFactory = request.app.state.sessions
    return factory


def session_limits(settings: Settings) -> SessionLimits:
    """How long logins last, from the settings."""
    return SessionLimits(
        lifetime=timedelta(hours=settings.web.session_hours),
        idle=timedelta(minutes=settings.web.session_idle_minutes),
    )


def _identify(request: Request, token: str | None) -> Principal | None:
    """The caller behind a bearer token or the session cookie (a token wins: a machine that
    sends one means it). Activity is written at most once a minute or so, after the read."""
    now = utcnow()
    read: SessionFactory = request.app.state.read_sessions
    key = request.cookies.get(SESSION_COOKIE) if token is None else None
    if token is None and not key:
        return None
    limits = session_limits(app_settings(request))
    with read() as session:
        if token is not None:
            found_token = find_token(session, token)
            if found_token is None:
                return None
            api_token, user = found_token
            row_id, stale = api_token.id, needs_touch(api_token, now)
            principal = _principal(user, "token", None)
        else:
            found_session = find_session(session, key or "", limits=limits, now=now)
            if found_session is None:
                return None
            web_session, user = found_session
            row_id = web_session.id
            stale = now - web_session.last_seen_at > limits.touch_every
            principal = _principal(user, "session", web_session.csrf_token)
    if stale:
        with transaction(write_sessions(request)) as session:
            if token is not None:
                touch_token(session, row_id, now)
            else:
                touch_session(session, row_id, now)
    return principal


def _principal(user: User, via: Literal["session", "token"], csrf: str | None) -> Principal:
    brands = tuple(brand.slug for brand in user.brands)
    return Principal(user.id, user.name, user.role, brands, via, csrf)
