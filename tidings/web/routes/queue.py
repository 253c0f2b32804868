"""The review queue (ops and admins): the page, ``GET /api/cases``, and bulk approval within one
category. The case page and each decision are in ``tidings.web.routes.cases``."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tidings.web.deps import OpsOrAdmin, PageOpsOrAdmin, ReadSessionDep, WriteSessionDep
from tidings.web.pages import render
from tidings.web.review_actions import BulkApproved, BulkApproveIn, approve_many, done_message
from tidings.web.review_queue import (
    AGES,
    UNASSIGNED,
    QueueFilters,
    QueuePage,
    age_label,
    due_label,
    queue_page,
)

PAGE_SIZE = 50
FiltersDep = Annotated[QueueFilters, Query()]


def queue_router() -> APIRouter:
    """The queue page, its JSON, and bulk approval."""
    router = APIRouter(tags=["review queue"])

    @router.get("/queue", response_class=HTMLResponse, include_in_schema=False)
    def page(
        request: Request,
        session: ReadSessionDep,
        filters: FiltersDep,
        user: PageOpsOrAdmin,
        offset: Annotated[int, Query(ge=0)] = 0,
        approved: Annotated[int | None, Query(ge=0)] = None,
        refused: Annotated[int | None, Query(ge=0)] = None,
        done: Annotated[str | None, Query(max_length=80)] = None,
    ) -> HTMLResponse:
        """Escalated cases by due time, with filters and their counts."""
        found = queue_page(session, filters, offset=offset, limit=PAGE_SIZE)
        flash = None
        if approved is not None:
            flash = f"{approved} case(s) approved; a worker sends the replies."
            if refused:
                flash += f" {refused} left as they were (stale draft, or no longer in review)."
        context = _context(found, user.name, flash=flash, done=done_message(done))
        return render(request, "queue.html", context)

    @router.post("/queue/approve", include_in_schema=False)
    def bulk_page(
        request: Request,
        session: WriteSessionDep,
        user: PageOpsOrAdmin,
        category: Annotated[str, Form(max_length=40)],
        ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies defaults
        queue: Annotated[str, Form(max_length=1000)] = "",
    ) -> Response:
        """The queue's "Approve selected" button (one category at a time)."""
        done = _approve(session, category, ids, by=f"web:{user.name}")
        params = f"{queue}&" if queue else ""
        counts = urlencode({"approved": len(done.approved), "refused": len(done.refused)})
        return RedirectResponse(f"/queue?{params}{counts}", status_code=303)

    @router.get("/api/cases")
    def api_queue(
        session: ReadSessionDep,
        filters: FiltersDep,
        _user: OpsOrAdmin,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    ) -> QueuePage:
        """The review queue: escalated cases by due time then priority, filtered by brand,
        category, language, age (lt1h, 1-4h, 4-24h, gt24h) and assignee (a user name, or
        "-" for nobody), with counts per filter value."""
        return queue_page(session, filters, offset=offset, limit=limit)

    @router.post("/api/cases/approve")
    def api_bulk(body: BulkApproveIn, session: WriteSessionDep, user: OpsOrAdmin) -> BulkApproved:
        """Approve the drafts of several cases of one category; each case not approved is
        listed with the reason."""
        return _approve(session, body.category, body.ids, by=f"web:{user.name}")

    return router


def _approve(session: Session, category: str, ids: list[int], *, by: str) -> BulkApproved:
    try:
        request = BulkApproveIn(category=category, ids=ids)
    except ValidationError as exc:
        raise HTTPException(422, "select 1 to 200 cases of one category to approve") from exc
    return approve_many(session, request, by=by)


def _context(found: QueuePage, me: str, **extra: object) -> dict[str, object]:
    """What queue.html needs: the page, the filter labels, and links that keep the filters."""
    active = found.filters.active()

    def filter_link(facet: str, value: str | None) -> str:
        changed = {k: v for k, v in active.items() if k != facet}
        return urlencode({**changed, facet: value} if value is not None else changed)

    def page_link(offset: int) -> str:
        return urlencode({**active, "offset": max(0, offset)})

    return {
        "q": found,
        "active": active,
        "query": urlencode(active),
        "filter_link": filter_link,
        "page_link": page_link,
        "ages": AGES,
        "unassigned": UNASSIGNED,
        "me_name": me,
        "now": found.generated_at,
        "due_label": due_label,
        "age_label": age_label,
        "page_size": PAGE_SIZE,
        **extra,
    }
