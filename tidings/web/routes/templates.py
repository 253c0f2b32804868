"""The template editor: brand managers edit and publish their own brands' templates, admins
every brand's and the default copy; ops may not open it.

Pages: the (event, language, channel) matrix of a brand at ``/templates``, and one slot's
editor at ``/templates/{brand}/{event}/{channel}/{language}`` with its live preview (htmx),
inline validation, history, diff, publish and rollback. The same under ``/api/templates``.
Everything goes through ``tidings.templates`` (store, matrix, preview); who may touch which
brand, and the store's errors as HTTP answers, are ``tidings.web.template_access``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from tidings.store.db import transaction
from tidings.templates import store
from tidings.templates.contract import MAX_SOURCE_CHARS
from tidings.templates.matrix import ScopeMatrix, SlotDetail, scope_matrix, slot_detail
from tidings.templates.preview import Preview, preview
from tidings.templates.store import SaveResult, TemplateKey, VersionInfo
from tidings.web.deps import ReadSessionDep, WriteSessionDep, read_sessions, write_sessions
from tidings.web.editor import (
    diff_view,
    editor_context,
    editor_url,
    matrix_context,
    preview_context,
    scopes_for,
)
from tidings.web.pages import render
from tidings.web.template_access import (
    SLOT_PATH,
    Editor,
    Note,
    PageEditor,
    Slot,
    SlotRef,
    Source,
    TemplateVersionCreate,
    call_store,
    editable_scope,
    save_version,
    slot_key,
    store_scope,
)


class TemplatePreviewRequest(SlotRef):
    """A source to render on a sample order; ``sample_language`` picks whose order (default:
    the slot's language), ``sparse`` leaves every optional value (ETA, reason...) empty."""

    body: str = Source
    subject: str | None = Field(default=None, max_length=MAX_SOURCE_CHARS)
    sample_language: str | None = Field(default=None, max_length=8)
    sparse: bool = False


class PublishRequest(BaseModel):
    """The draft to publish."""

    version: int = Field(ge=1)


class RollbackRequest(BaseModel):
    """The version whose text to publish again, as a new version."""

    to_version: int = Field(ge=1)
    note: str | None = Note


class TemplateDiff(BaseModel):
    """A unified diff between two versions of a slot."""

    old: int
    new: int
    diff: str


def templates_router() -> APIRouter:
    """The editor's pages and API."""
    router = APIRouter(tags=["templates"])
    _api_routes(router)
    _page_routes(router)
    return router


def _api_routes(router: APIRouter) -> None:
    @router.get("/api/templates")
    def api_matrix(
        session: ReadSessionDep,
        user: Editor,
        brand: Annotated[str | None, Query(max_length=40)] = None,
    ) -> list[ScopeMatrix]:
        """The matrix of every brand you may edit (admins: the default copy too), or of one."""
        scopes = [editable_scope(user, brand)] if brand else scopes_for(session, user)
        return [call_store(scope_matrix, session=session, slug=store_scope(s)) for s in scopes]

    @router.get("/api/templates" + SLOT_PATH)
    def api_slot(session: ReadSessionDep, user: Editor, ref: Slot) -> SlotDetail:
        """One slot: its versions, what customers get today, its WhatsApp approval."""
        return call_store(slot_detail, session=session, key=slot_key(user, ref))

    @router.get("/api/templates" + SLOT_PATH + "/diff")
    def api_diff(
        session: ReadSessionDep,
        user: Editor,
        ref: Slot,
        old: Annotated[int, Query(ge=1)],
        new: Annotated[int, Query(ge=1)],
    ) -> TemplateDiff:
        """A unified diff from version ``old`` to version ``new``."""
        text = call_store(store.diff, session=session, key=slot_key(user, ref), old=old, new=new)
        return TemplateDiff(old=old, new=new, diff=text)

    @router.post("/api/templates", status_code=201)
    def api_save(
        change: TemplateVersionCreate, session: WriteSessionDep, user: Editor, response: Response
    ) -> SaveResult:
        """Save a new version (a draft, or published with ``publish``); 422 lists each problem
        with its line, 409 when someone saved another version since ``base_version``."""
        saved = save_version(session, user, slot_key(user, change), change)
        if not saved.created:
            response.status_code = 200
        return saved

    @router.post("/api/templates/preview")
    def api_preview(
        request_body: TemplatePreviewRequest, session: ReadSessionDep, user: Editor
    ) -> Preview:
        """Render a source on a sample order, with every issue a save would report."""
        return call_store(
            preview,
            session=session,
            key=slot_key(user, request_body),
            body=request_body.body,
            subject=request_body.subject,
            sample_language=request_body.sample_language,
            sparse=request_body.sparse,
        )

    @router.post("/api/templates" + SLOT_PATH + "/publish")
    def api_publish(
        ask: PublishRequest,
        session: WriteSessionDep,
        user: Editor,
        ref: Slot,
    ) -> VersionInfo:
        """Publish a draft: customers get it from now on; the previous one is archived."""
        return call_store(
            store.publish,
            session=session,
            key=slot_key(user, ref),
            version=ask.version,
            by=user.name,
        )

    @router.post("/api/templates" + SLOT_PATH + "/rollback")
    def api_rollback(
        ask: RollbackRequest,
        session: WriteSessionDep,
        user: Editor,
        ref: Slot,
    ) -> VersionInfo:
        """Publish an older version's text again, as a new version (history stays intact)."""
        return call_store(
            store.rollback,
            session=session,
            key=slot_key(user, ref),
            to_version=ask.to_version,
            author=user.name,
            note=ask.note,
        )


def _page_routes(router: APIRouter) -> None:
    @router.get("/templates", response_class=HTMLResponse, include_in_schema=False)
    def page_matrix(
        request: Request,
        session: ReadSessionDep,
        user: PageEditor,
        brand: Annotated[str | None, Query(max_length=40)] = None,
    ) -> HTMLResponse:
        """The matrix of one brand, with tabs for the others you may edit."""
        if brand is not None:
            editable_scope(user, brand)
        context = call_store(matrix_context, session, user, brand)
        return render(request, "editor/matrix.html", context)

    @router.get("/templates" + SLOT_PATH, response_class=HTMLResponse, include_in_schema=False)
    def page_editor(
        request: Request,
        session: ReadSessionDep,
        user: PageEditor,
        ref: Slot,
        start: Annotated[int | None, Query(alias="from", ge=1)] = None,
        old: Annotated[int | None, Query(ge=1)] = None,
        new: Annotated[int | None, Query(ge=1)] = None,
        done: Annotated[str | None, Query(max_length=40)] = None,
    ) -> HTMLResponse:
        """The editor, loaded with the newest version (or ``from``), and a diff when asked."""
        key = slot_key(user, ref)
        context = call_store(editor_context, session, key, start=start, diff=(old, new), done=done)
        return render(request, "editor/edit.html", context)

    @router.post("/templates" + SLOT_PATH, include_in_schema=False)
    def page_save(
        request: Request,
        user: PageEditor,
        ref: Slot,
        body: Annotated[str, Form(max_length=MAX_SOURCE_CHARS)],
        subject: Annotated[str | None, Form(max_length=MAX_SOURCE_CHARS)] = None,
        note: Annotated[str, Form(max_length=500)] = "",
        base_version: Annotated[int, Form(ge=0)] = 0,
        action: Annotated[str, Form(pattern="^(save|publish)$")] = "save",
    ) -> Response:
        """The editor's Save buttons; on a problem the editor comes back with the text kept."""
        key = slot_key(user, ref)
        change = TemplateVersionCreate(
            **ref.model_dump(),
            body=body,
            subject=subject,
            note=note or None,
            base_version=base_version,
            publish=action == "publish",
        )
        try:
            with transaction(write_sessions(request)) as session:
                saved = save_version(session, user, key, change)
        except HTTPException as exc:
            return _editor_again(request, key, change, exc)
        verb = "published" if change.publish else "saved"
        return _back_to(key, f"{verb}-{saved.version.version}")

    @router.post("/templates" + SLOT_PATH + "/preview", include_in_schema=False)
    def page_preview(
        request: Request,
        session: ReadSessionDep,
        user: PageEditor,
        ref: Slot,
        body: Annotated[str, Form(max_length=MAX_SOURCE_CHARS)] = "",
        subject: Annotated[str | None, Form(max_length=MAX_SOURCE_CHARS)] = None,
        sample: Annotated[str | None, Form(max_length=8)] = None,
        sparse: Annotated[bool, Form()] = False,
    ) -> HTMLResponse:
        """The live preview and the issues, for htmx to swap in as the text changes."""
        key = slot_key(user, ref)
        shown = call_store(
            preview,
            session=session,
            key=key,
            body=body,
            subject=subject,
            sample_language=sample,
            sparse=sparse,
        )
        return render(request, "editor/preview.html", preview_context(key, shown))

    @router.get(
        "/templates" + SLOT_PATH + "/diff", response_class=HTMLResponse, include_in_schema=False
    )
    def page_diff(
        request: Request,
        session: ReadSessionDep,
        user: PageEditor,
        ref: Slot,
        old: Annotated[int, Query(ge=1)],
        new: Annotated[int, Query(ge=1)],
    ) -> Response:
        """A diff for the history panel (htmx); without htmx, the editor showing it."""
        key = slot_key(user, ref)
        if "HX-Request" not in request.headers:
            return RedirectResponse(f"{editor_url(key)}?old={old}&new={new}", status_code=303)
        text = call_store(store.diff, session=session, key=key, old=old, new=new)
        return render(request, "editor/diff.html", {"diff": diff_view(old=old, new=new, text=text)})

    @router.post("/templates" + SLOT_PATH + "/publish", include_in_schema=False)
    def page_publish(
        request: Request,
        user: PageEditor,
        ref: Slot,
        version: Annotated[int, Form(ge=1)],
    ) -> Response:
        """A history row's Publish button."""
        key = slot_key(user, ref)
        try:
            with transaction(write_sessions(request)) as session:
                call_store(store.publish, session=session, key=key, version=version, by=user.name)
        except HTTPException as exc:
            return _editor_again(request, key, None, exc)
        return _back_to(key, f"published-{version}")

    @router.post("/templates" + SLOT_PATH + "/rollback", include_in_schema=False)
    def page_rollback(
        request: Request,
        user: PageEditor,
        ref: Slot,
        to_version: Annotated[int, Form(ge=1)],
    ) -> Response:
        """A history row's Roll back button."""
        key = slot_key(user, ref)
        try:
            with transaction(write_sessions(request)) as session:
                rolled = call_store(
                    store.rollback,
                    session=session,
                    key=key,
                    to_version=to_version,
                    author=user.name,
                )
        except HTTPException as exc:
            return _editor_again(request, key, None, exc)
        return _back_to(key, f"rolled-{to_version}-{rolled.version}")


def _back_to(key: TemplateKey, done: str) -> RedirectResponse:
    return RedirectResponse(f"{editor_url(key)}?done={done}", status_code=303)


def _editor_again(
    request: Request, key: TemplateKey, change: TemplateVersionCreate | None, exc: HTTPException
) -> HTMLResponse:
    """The editor with the user's text and what went wrong (a 4xx page, never a lost edit)."""
    with read_sessions(request)() as session:
        context = call_store(editor_context, session, key, failed=exc, change=change)
    return render(request, "editor/edit.html", context, status_code=exc.status_code)
