"""The dashboard (any signed-in role): queue health and the figures in ``tidings.web.figures``,
refreshed by htmx polling a fragment; the same figures as JSON under ``/api``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from tidings.config import Settings
from tidings.store.enums import CaseState, EmailState, NotificationState
from tidings.web.deps import CurrentUser, PageUser, ReadSessionDep, SettingsDep
from tidings.web.figures import Dashboard, DeadLetters, dashboard, dead_letters
from tidings.web.pages import render
from tidings.web.queue import QueueHealth, needs_attention, queue_health


def dashboard_router() -> APIRouter:
    """The dashboard page, its fragment, and its JSON."""
    router = APIRouter(tags=["dashboard"])

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(
        request: Request, session: ReadSessionDep, settings: SettingsDep, _user: PageUser
    ) -> HTMLResponse:
        """The dashboard."""
        return render(request, "dashboard.html", panels_context(session, settings))

    @router.get("/dashboard/panels", response_class=HTMLResponse, include_in_schema=False)
    def panels(
        request: Request, session: ReadSessionDep, settings: SettingsDep, _user: PageUser
    ) -> HTMLResponse:
        """The dashboard's figures alone, for htmx to swap in every few seconds."""
        return render(request, "dashboard/panels.html", panels_context(session, settings))

    @router.get("/api/dashboard")
    def api_dashboard(
        session: ReadSessionDep, settings: SettingsDep, _user: CurrentUser
    ) -> Dashboard:
        """Every figure the dashboard shows."""
        return dashboard(session, kill_switch_env=settings.kill_switch)

    @router.get("/api/queue")
    def api_queue(session: ReadSessionDep, _user: CurrentUser) -> QueueHealth:
        """Queue depth by state."""
        return queue_health(session)

    @router.get("/api/dead-letters")
    def api_dead_letters(session: ReadSessionDep, _user: CurrentUser) -> DeadLetters:
        """Rows that gave up, counted per kind, and the newest of each."""
        return dead_letters(session)

    return router


def panels_context(session: Session, settings: Settings, **extra: object) -> dict[str, object]:
    """What the dashboard's templates need: the figures and the scales of its bar charts."""
    figures = dashboard(session, kill_switch_env=settings.kill_switch)
    return {
        "d": figures,
        "attention": needs_attention(figures.queue),
        "refresh": settings.web.dashboard_refresh_seconds,
        "peak": max((h.emails for h in figures.emails_per_hour), default=0),
        "confidence_peak": max((b.cases for b in figures.confidence), default=0),
        "email_states": [state.value for state in EmailState],
        "case_states": [state.value for state in CaseState],
        "notification_states": [state.value for state in NotificationState],
        **extra,
    }
