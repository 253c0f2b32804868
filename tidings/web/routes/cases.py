"""One case in review (ops and admins): its page and every action on it, each as a form the page
posts and as JSON under ``/api/cases/{id}``. Decisions are written on the case row and a worker
applies them (``tidings.web.review_actions``); the web app never runs the agent's graph.

The page keeps the queue's filters (``?brand=...&category=...``) so "approve and next" and the
keyboard's next case follow the queue the person was working.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from tidings.agent.build import order_api_for
from tidings.agent.decisions import DecisionRefusedError
from tidings.agent.retry import rerun_case
from tidings.agent.state import DecisionAction
from tidings.agent.trail import case_details
from tidings.channels.render import default_renderer
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.config import Settings, load_brands
from tidings.errors import TidingsError
from tidings.store.db import SessionFactory
from tidings.web.casefile import CaseFile, Preview, case_file, order_context, preview
from tidings.web.deps import (
    OpsOrAdmin,
    PageOpsOrAdmin,
    ReadSessionDep,
    WriteSessionDep,
    read_sessions,
    write_sessions,
)
from tidings.web.pages import render
from tidings.web.review_actions import (
    ActionRefusedError,
    Decided,
    DecisionIn,
    DraftIn,
    decide,
    done_message,
    queue_users,
    save_draft,
)
from tidings.web.review_queue import QueueFilters, age_label, due_label, neighbour

MAX_QUEUE_PARAMS = 1000
T = TypeVar("T")


class DraftSaved(BaseModel):
    """The draft as kept on the case."""

    case_id: int
    draft: str


class Rerun(BaseModel):
    """A case sent back through the agent."""

    case_id: int
    summary: str


def cases_router(settings: Settings) -> APIRouter:
    """The case page, its actions, and their JSON."""
    router = APIRouter(tags=["cases"])
    brands = functools.cache(lambda: load_brands(settings.brands_file))  # read on first use

    # One order API client for the app's life (a REST one holds an HTTP connection pool).
    order_api = functools.cache(lambda factory: order_api_for(settings, factory))

    def load(request: Request, session: Session, case_id: int) -> CaseFile:
        try:
            return case_file(session, case_id, order_api(read_sessions(request)))
        except TidingsError as exc:
            raise HTTPException(404, str(exc)) from exc

    def page_answer(
        request: Request,
        session: Session,
        case_id: int,
        queue: str,
        *,
        error: ActionRefusedError | None = None,
        done: str | None = None,
    ) -> HTMLResponse:
        found = load(request, session, case_id)
        filters = _filters(queue)
        context = {
            "f": found,
            "queue": urlencode(filters.active()),
            "next_id": neighbour(session, filters, case_id),
            "categories": load_taxonomy().names,
            "users": queue_users(session),
            "error": str(error) if error else None,
            "done": done_message(done),
            "due_label": due_label,
            "age_label": age_label,
        }
        status = error.status if error else 200
        return render(request, "case.html", context, status_code=status)

    @router.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
    def page(
        request: Request,
        case_id: int,
        session: ReadSessionDep,
        _user: PageOpsOrAdmin,
        done: Annotated[str | None, Query(max_length=80)] = None,
    ) -> HTMLResponse:
        """The case: email, thread, order, classification, trail, and the drafted reply."""
        queue = urlencode([(k, v) for k, v in request.query_params.items() if k != "done"])
        return page_answer(request, session, case_id, queue, done=done)

    @router.post("/cases/{case_id}/decision", include_in_schema=False)
    def decide_page(
        request: Request,
        case_id: int,
        session: WriteSessionDep,
        user: PageOpsOrAdmin,
        action: Annotated[DecisionAction, Form()],
        reply: Annotated[str, Form(max_length=10_000)] = "",
        label: Annotated[str, Form(max_length=40)] = "",
        assignee: Annotated[str, Form(max_length=64)] = "",
        original: Annotated[str, Form(max_length=10_000)] = "",
        then: Annotated[str, Query(max_length=10)] = "",
        queue: Annotated[str, Form(max_length=MAX_QUEUE_PARAMS)] = "",
    ) -> Response:
        """The page's decision buttons; "approve and next" goes on to the next case. Approving
        a reply the person changed in the editor sends their text (an edit)."""
        if action == "approve" and reply.strip() and reply.split() != original.split():
            action = "edit"  # compared word by word: browsers send a textarea's lines as CRLF
        decision = DecisionIn(
            action=action,
            reply=reply if action == "edit" else None,
            label=label or None,
            assignee=assignee or None,
            draft_seen=original if action == "approve" and original else None,
        )
        try:
            decide(session, case_id, decision, by=f"web:{user.name}")
        except ActionRefusedError as exc:
            return page_answer(request, session, case_id, queue, error=exc)
        filters = _filters(queue)
        done = urlencode({"done": f"{case_id}:{action}"})
        params = f"{urlencode(filters.active())}&{done}".lstrip("&")
        if then == "next":
            following = neighbour(session, filters, case_id)
            target = f"/cases/{following}" if following is not None else "/queue"
            return RedirectResponse(f"{target}?{params}", status_code=303)
        return RedirectResponse(f"/cases/{case_id}?{params}", status_code=303)

    @router.post("/cases/{case_id}/draft", include_in_schema=False)
    def draft_page(
        request: Request,
        case_id: int,
        session: WriteSessionDep,
        user: PageOpsOrAdmin,
        reply: Annotated[str, Form(max_length=10_000)],
        original: Annotated[str, Form(max_length=10_000)] = "",
        queue: Annotated[str, Form(max_length=MAX_QUEUE_PARAMS)] = "",
    ) -> Response:
        """Keep the edited draft (htmx answers with a line saying so, and the page's copy of
        the draft becomes the one saved)."""
        try:
            save_draft(session, case_id, _draft(reply, original or None), by=f"web:{user.name}")
        except ActionRefusedError as exc:
            if "HX-Request" in request.headers:
                return render(request, "case/saved.html", {"error": str(exc)})
            return page_answer(request, session, case_id, queue, error=exc)
        if "HX-Request" in request.headers:
            return render(request, "case/saved.html", {"error": None, "saved": reply.strip()})
        return RedirectResponse(f"/cases/{case_id}?{queue}", status_code=303)

    @router.post("/cases/{case_id}/preview", include_in_schema=False)
    def preview_page(
        request: Request,
        case_id: int,
        session: ReadSessionDep,
        _user: PageOpsOrAdmin,
        reply: Annotated[str, Form(max_length=10_000)] = "",
    ) -> HTMLResponse:
        """The reply as each channel would send it (htmx swaps it in as the person types)."""
        shown = _preview(request, session, case_id, reply)
        return render(request, "case/preview.html", {"previews": shown})

    @router.post("/cases/{case_id}/rerun", include_in_schema=False)
    def rerun_page(
        request: Request,
        case_id: int,
        user: PageOpsOrAdmin,
        queue: Annotated[str, Form(max_length=MAX_QUEUE_PARAMS)] = "",
    ) -> Response:
        """Send the case back through the agent."""
        try:
            _rerun(write_sessions(request), case_id, by=f"web:{user.name}")
        except ActionRefusedError as exc:
            with read_sessions(request)() as session:
                return page_answer(request, session, case_id, queue, error=exc)
        params = "&".join(p for p in (queue, urlencode({"done": f"{case_id}:rerun"})) if p)
        return RedirectResponse(f"/cases/{case_id}?{params}", status_code=303)

    @router.get("/api/cases/{case_id}")
    def api_case(
        request: Request, case_id: int, session: ReadSessionDep, _user: OpsOrAdmin
    ) -> CaseFile:
        """The case: its email (HTML sanitised, remote content blocked), thread, order and
        parcels, classification, why it was escalated, the trail and the drafted reply."""
        return load(request, session, case_id)

    @router.post("/api/cases/{case_id}/decision")
    def api_decide(
        case_id: int, decision: DecisionIn, session: WriteSessionDep, user: OpsOrAdmin
    ) -> Decided:
        """Decide a case waiting in review: approve (send the draft), edit (send ``reply``),
        reject, relabel (``label``: feeds `tidings train`), reassign (``assignee``), resolve
        (close without a reply). A worker applies it. 409 when the case cannot take it now (not
        in review, a worker on it, a stale draft to approve), 422 for a decision missing what
        it needs."""
        return _or_http(lambda: decide(session, case_id, decision, by=f"web:{user.name}"))

    @router.put("/api/cases/{case_id}/draft")
    def api_draft(
        case_id: int, draft: DraftIn, session: WriteSessionDep, user: OpsOrAdmin
    ) -> DraftSaved:
        """Keep an edited draft on the case (it is sent by a later approve)."""
        _or_http(lambda: save_draft(session, case_id, draft, by=f"web:{user.name}"))
        return DraftSaved(case_id=case_id, draft=draft.text.strip())

    @router.post("/api/cases/{case_id}/preview")
    def api_preview(
        request: Request, case_id: int, draft: DraftIn, session: ReadSessionDep, _user: OpsOrAdmin
    ) -> list[Preview]:
        """The reply as the brand's case_reply on email, WhatsApp and SMS, in the customer's
        language."""
        return _preview(request, session, case_id, draft.text)

    @router.post("/api/cases/{case_id}/rerun")
    def api_rerun(request: Request, case_id: int, user: OpsOrAdmin) -> Rerun:
        """Send a case waiting in review back through the agent (its order, guards and a
        fresh draft; the classification stays)."""
        return _or_http(lambda: _rerun(write_sessions(request), case_id, by=f"web:{user.name}"))

    def _preview(request: Request, session: Session, case_id: int, text: str) -> list[Preview]:
        """Typing in the editor asks for this every pause: only the case and its order are
        read, not the whole case file."""
        try:
            details = case_details(session, case_id)
        except TidingsError as exc:
            raise HTTPException(404, str(exc)) from exc
        order = order_context(order_api(read_sessions(request)), details.order)
        return preview(
            session,
            renderer=default_renderer(),
            brands=brands(),
            details=details,
            context=order,
            text=text.strip() or details.draft_reply or "",
        )

    def _rerun(factory: SessionFactory, case_id: int, *, by: str) -> Rerun:
        try:
            done = rerun_case(factory, settings.database_url, case_id, by=by)
        except DecisionRefusedError as exc:
            raise ActionRefusedError(str(exc)) from exc
        return Rerun(case_id=case_id, summary=done.summary)

    return router


def _or_http(call: Callable[[], T]) -> T:
    """The action's answer, or its refusal as an HTTP error."""
    try:
        return call()
    except ActionRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from exc


def _filters(queue: str) -> QueueFilters:
    """The queue's filters carried in a form field or the page's query string (unknown or bad
    ones are dropped: they only steer navigation)."""
    pairs = dict(parse_qsl(queue[:MAX_QUEUE_PARAMS]))
    known = {k: v for k, v in pairs.items() if k in QueueFilters.model_fields}
    try:
        return QueueFilters.model_validate(known)
    except ValidationError:
        return QueueFilters()


def _draft(text: str, base: str | None = None) -> DraftIn:
    try:
        return DraftIn(text=text, base=base)
    except ValidationError as exc:
        raise ActionRefusedError("the reply needs its text", 422) from exc
