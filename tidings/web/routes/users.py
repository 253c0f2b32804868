"""Users (admins only): list, add, disable and enable, as a page and as JSON.

Passwords set here are the user's first; they change them with ``tidings users set-password``
(or an admin sets a new one there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tidings.auth.users import UserPublic, add_user, list_users, set_active
from tidings.errors import AccountConflictError, AccountError, AccountNotFoundError
from tidings.store.db import transaction
from tidings.store.enums import Role
from tidings.store.models import BrandRow
from tidings.web.deps import (
    AdminUser,
    PageAdmin,
    ReadSessionDep,
    WriteSessionDep,
    read_sessions,
    write_sessions,
)
from tidings.web.pages import render


class UserCreate(BaseModel):
    """A new user: brand managers need their brands, the others none."""

    name: str = Field(max_length=64)
    role: Role
    password: str = Field(max_length=1024)
    brands: list[str] = Field(default_factory=list, max_length=100)


def users_router() -> APIRouter:
    """The users page and its API."""
    router = APIRouter(tags=["users"])

    @router.get("/users", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request, session: ReadSessionDep, _user: PageAdmin) -> HTMLResponse:
        """Every user, and a form to add one."""
        return _page(request, session)

    @router.post("/users", response_class=HTMLResponse, include_in_schema=False)
    async def add(
        request: Request,
        _user: PageAdmin,
        name: Annotated[str, Form(max_length=64)],
        role: Annotated[Role, Form()],
        password: Annotated[str, Form(max_length=1024)],
        brands: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    ) -> Response:
        """The add-user form."""
        new = UserCreate(name=name, role=role, password=password, brands=brands)
        try:
            await run_in_threadpool(_add, request, new)  # argon2 takes a moment: not on the loop
        except HTTPException as exc:
            with read_sessions(request)() as session:
                return _page(request, session, error=str(exc.detail), status=exc.status_code)
        return RedirectResponse("/users", status_code=303)

    @router.post("/users/{name}/active", include_in_schema=False)
    def toggle(
        request: Request,
        name: str,
        session: WriteSessionDep,
        _user: PageAdmin,
        active: Annotated[bool, Form()],
    ) -> Response:
        """Disable or enable a user from the page."""
        _set_active(session, name, active)
        return RedirectResponse("/users", status_code=303)

    @router.get("/api/users")
    def api_list(session: ReadSessionDep, _user: AdminUser) -> list[UserPublic]:
        """Every user, by name."""
        return [UserPublic.of(user) for user in list_users(session)]

    @router.post("/api/users", status_code=201)
    async def api_add(request: Request, new: UserCreate, _user: AdminUser) -> UserPublic:
        """Add a user; 409 when the name is taken, 422 for a weak password or unknown brand."""
        return await run_in_threadpool(_add, request, new)

    @router.post("/api/users/{name}/disable")
    def api_disable(name: str, session: WriteSessionDep, _user: AdminUser) -> UserPublic:
        """Disable a user: their sessions end and their tokens stop working."""
        return _set_active(session, name, False)

    @router.post("/api/users/{name}/enable")
    def api_enable(name: str, session: WriteSessionDep, _user: AdminUser) -> UserPublic:
        """Enable a disabled user again."""
        return _set_active(session, name, True)

    return router


def _add(request: Request, new: UserCreate) -> UserPublic:
    try:
        with transaction(write_sessions(request)) as session:
            user = add_user(
                session, name=new.name, role=new.role, password=new.password, brands=new.brands
            )
            return UserPublic.of(user)
    except AccountError as exc:
        raise HTTPException(_status(exc), str(exc)) from exc


def _set_active(session: Session, name: str, active: bool) -> UserPublic:
    try:
        return UserPublic.of(set_active(session, name=name, active=active))
    except AccountError as exc:
        raise HTTPException(_status(exc), str(exc)) from exc


def _status(exc: AccountError) -> int:
    if isinstance(exc, AccountNotFoundError):
        return 404
    return 409 if isinstance(exc, AccountConflictError) else 422


def _page(
    request: Request, session: Session, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    context = {
        "users": [UserPublic.of(user) for user in list_users(session)],
        "brands": list(session.scalars(select(BrandRow.slug).order_by(BrandRow.slug))),
        "roles": list(Role),
        "error": error,
    }
    return render(request, "users.html", context, status_code=status)
