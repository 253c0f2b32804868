"""Replay buttons for dead letters (ops and admins): one route for the page (htmx swaps the
dashboard's panels back in; without JavaScript the form posts and the page reloads) and one
for the API."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tidings.web.deps import (
    OpsOrAdmin,
    PageOpsOrAdmin,
    Principal,
    ReadSessionDep,
    SettingsDep,
    write_sessions,
)
from tidings.web.pages import render
from tidings.web.replay import Kind, Replayed, ReplayRefusedError, replay_dead_letter
from tidings.web.routes.dashboard import panels_context


def deadletters_router() -> APIRouter:
    """Replay one dead letter."""
    router = APIRouter(tags=["dead letters"])

    @router.post("/api/dead-letters/{kind}/{row_id}/replay")
    async def api_replay(
        request: Request, kind: Kind, row_id: int, settings: SettingsDep, user: OpsOrAdmin
    ) -> Replayed:
        """Put a quarantined email, a failed case or a dead notification back in its queue;
        409 when the row is not a dead letter."""
        return await _replay(request, settings.database_url, kind, row_id, user)

    @router.post("/dead-letters/{kind}/{row_id}/replay", include_in_schema=False)
    async def page_replay(
        request: Request,
        kind: Kind,
        row_id: int,
        settings: SettingsDep,
        session: ReadSessionDep,
        user: PageOpsOrAdmin,
    ) -> Response:
        """The dashboard's replay button."""
        try:
            done = await _replay(request, settings.database_url, kind, row_id, user)
            flash, failed = f"{kind[:-1].capitalize()} {row_id}: {done.summary}.", False
        except HTTPException as exc:
            flash, failed = str(exc.detail), True
        if "HX-Request" not in request.headers:
            return RedirectResponse("/", status_code=303)
        context = panels_context(session, settings, flash=flash, flash_failed=failed)
        return render(request, "dashboard/panels.html", context)

    return router


async def _replay(
    request: Request, database_url: str, kind: Kind, row_id: int, user: Principal
) -> Replayed:
    try:
        return await run_in_threadpool(
            replay_dead_letter,
            write_sessions(request),
            database_url,
            kind=kind,
            row_id=row_id,
            by=f"web:{user.name}",
        )
    except ReplayRefusedError as exc:
        raise HTTPException(409, str(exc)) from exc
