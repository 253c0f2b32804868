"""Kill switches in the web app: everyone sees them on the dashboard; admins flip them here,
globally or per brand (per category stays with ``tidings killswitch``). Workers read the
switches on every case, so a change takes effect at the next case any worker picks up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.store.models import BrandRow
from tidings.store.switches import set_switch
from tidings.web.deps import (
    AdminUser,
    CurrentUser,
    PageAdmin,
    ReadSessionDep,
    SettingsDep,
    WriteSessionDep,
)
from tidings.web.figures import KillSwitches, kill_switches
from tidings.web.pages import render


class SwitchChange(BaseModel):
    """Engage or release the switch of one scope; no brand and no category: everything."""

    brand: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=40)
    engaged: bool
    note: str | None = Field(default=None, max_length=500)


def killswitch_router() -> APIRouter:
    """The kill switch page and its API."""
    router = APIRouter(tags=["kill switch"])

    @router.get("/killswitch", response_class=HTMLResponse, include_in_schema=False)
    def page(
        request: Request, session: ReadSessionDep, settings: SettingsDep, _user: PageAdmin
    ) -> HTMLResponse:
        """Every switch, with buttons to flip the global one and each brand's."""
        state = kill_switches(session, environment=settings.kill_switch)
        return render(request, "killswitch.html", {"k": state})

    @router.post("/killswitch", include_in_schema=False)
    def flip(
        request: Request,
        session: WriteSessionDep,
        settings: SettingsDep,
        user: PageAdmin,
        engaged: Annotated[bool, Form()],
        brand: Annotated[str, Form(max_length=40)] = "",
        note: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        """The page's buttons: htmx swaps the panel; without JavaScript the page reloads."""
        change = SwitchChange(brand=brand or None, engaged=engaged, note=note or None)
        _apply(session, change, by=f"web:{user.name}")
        if "HX-Request" not in request.headers:
            return RedirectResponse("/killswitch", status_code=303)
        state = kill_switches(session, environment=settings.kill_switch)
        return render(request, "killswitch/panel.html", {"k": state})

    @router.get("/api/killswitch")
    def api_state(
        session: ReadSessionDep, settings: SettingsDep, _user: CurrentUser
    ) -> KillSwitches:
        """Every switch, and whether auto-actions stop everywhere."""
        return kill_switches(session, environment=settings.kill_switch)

    @router.put("/api/killswitch")
    def api_flip(
        change: SwitchChange, session: WriteSessionDep, settings: SettingsDep, user: AdminUser
    ) -> KillSwitches:
        """Engage or release one switch (admins)."""
        _apply(session, change, by=f"web:{user.name}")
        return kill_switches(session, environment=settings.kill_switch)

    return router


def _apply(session: Session, change: SwitchChange, *, by: str) -> None:
    if change.brand is not None:
        known = set(session.scalars(select(BrandRow.slug)))
        if change.brand not in known:
            raise HTTPException(422, f"no brand {change.brand!r}: known brands are {sorted(known)}")
    set_switch(
        session,
        engaged=change.engaged,
        by=by,
        brand=change.brand,
        category=change.category,
        note=change.note,
    )
