"""Logging in and out, and ``GET /api/me``.

The login form is public but bound to the browser that loaded it (an HMAC of a nonce in a
cookie), so another site cannot log a victim into an attacker's account. Failed logins are
rate limited per name and per address in the database (``tidings.auth.login``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tidings.auth.keys import new_secret
from tidings.auth.login import LoginLimits, log_in
from tidings.auth.sessions import end_session
from tidings.auth.users import normal_name
from tidings.config import Settings
from tidings.logs import get_logger
from tidings.store.db import transaction
from tidings.store.enums import Role
from tidings.web.deps import (
    PUBLIC,
    CurrentUser,
    PageUser,
    SettingsDep,
    session_limits,
    write_sessions,
)
from tidings.web.pages import render
from tidings.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    client_ip,
    login_form_ok,
    login_form_token,
    secure_cookies,
)

LOGIN_FORM_MINUTES = 30
log = get_logger(__name__)


class Me(BaseModel):
    """The caller, as ``GET /api/me`` shows it."""

    name: str
    role: Role
    brands: list[str]
    via: Literal["session", "token"]


def auth_router() -> APIRouter:
    """Login page, login, logout, and who am I."""
    router = APIRouter(tags=["auth"])

    @router.get(
        "/login",
        response_class=HTMLResponse,
        include_in_schema=False,
        dependencies=[Depends(PUBLIC)],
    )
    def login_page(request: Request, settings: SettingsDep, next: str = "/") -> Response:
        """The login form."""
        return _login_form(request, settings, next_path=next)

    @router.post(
        "/login",
        response_class=HTMLResponse,
        include_in_schema=False,
        dependencies=[Depends(PUBLIC)],
    )
    async def login(
        request: Request,
        settings: SettingsDep,
        name: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=2048)] = "",
        csrf_token: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> Response:
        """Check the name and password; start a session and go where the user was headed."""
        if not login_form_ok(settings, request.cookies.get(LOGIN_COOKIE), csrf_token):
            message = "The login form expired. Please try again."
            return _login_form(request, settings, next_path=next, error=message, status=403)
        web = settings.web
        outcome = await run_in_threadpool(
            log_in,
            write_sessions(request),
            name=name,
            password=password,
            ip=client_ip(request),
            limits=LoginLimits(
                per_name=web.login_failures_per_name,
                per_ip=web.login_failures_per_ip,
                window=timedelta(minutes=web.login_window_minutes),
            ),
            sessions=session_limits(settings),
        )
        who = {"user": normal_name(name)[:64], "ip": client_ip(request)}
        if outcome.retry_after is not None:
            log.warning("login throttled", retry_after=int(outcome.retry_after), **who)
            minutes = max(1, round(outcome.retry_after / 60))
            message = f"Too many failed logins. Try again in {minutes} minute(s)."
            page = _login_form(request, settings, next_path=next, error=message, status=429)
            page.headers["Retry-After"] = str(int(outcome.retry_after))
            return page
        if outcome.session is None:
            log.info("login refused", **who)
            message = "Wrong name or password."
            return _login_form(request, settings, next_path=next, error=message, status=401)
        log.info("login", **who)
        answer = RedirectResponse(_local(next), status_code=303)
        answer.set_cookie(
            SESSION_COOKIE,
            outcome.session.key,
            max_age=int(session_limits(settings).lifetime.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request, settings),
        )
        answer.delete_cookie(LOGIN_COOKIE)
        return answer

    @router.post("/logout", include_in_schema=False)
    def logout(request: Request, _user: PageUser) -> Response:
        """End this session (the CSRF token is checked first: nobody logs you out from afar)."""
        key = request.cookies.get(SESSION_COOKIE, "")
        with transaction(write_sessions(request)) as session:
            end_session(session, key)
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(SESSION_COOKIE)
        return answer

    @router.get("/api/me")
    def me(user: CurrentUser) -> Me:
        """Who is calling: name, role, brands, and whether by session or token."""
        return Me(name=user.name, role=user.role, brands=list(user.brands), via=user.via)

    return router


def _login_form(
    request: Request,
    settings: Settings,
    *,
    next_path: str,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_COOKIE) or new_secret()
    page = render(
        request,
        "login.html",
        {
            "login_token": login_form_token(settings, nonce),
            "next": _local(next_path),
            "error": error,
        },
        status_code=status,
    )
    page.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_MINUTES * 60,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, settings),
    )
    return page


def _local(path: str) -> str:
    """Only a path on this site: a login must never send the user to another site."""
    if path.startswith("/") and not path.startswith(("//", "/\\")) and "\n" not in path:
        return path
    return "/"
