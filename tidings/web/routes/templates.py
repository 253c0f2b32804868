"""The template editor: brand managers edit and publish their own brands' templates, admins
every brand's and the default copy; ops may not open it.

Pages: the (event, language, channel) matrix of a brand at ``/templates``, and one slot's
editor at ``/templates/{brand}/{event}/{channel}/{language}`` with its live preview (htmx),
inline validation, history, diff, publish and rollback. The same under ``/api/templates``.
Everything goes through ``tidings.templates`` (store, matrix, preview): this module only checks
who may touch which brand and turns errors into HTTP answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from tidings.errors import (
    TemplateConflictError,
    TemplateError,
    TemplateNotFoundError,
    TemplateValidationError,
)
from tidings.store.db import transaction
from tidings.store.enums import ChannelKind, Role
from tidings.templates import store
from tidings.templates.contract import DEFAULT_SCOPE, MAX_SOURCE_CHARS
from tidings.templates.matrix import ScopeMatrix, SlotDetail, scope_matrix, slot_detail
from tidings.templates.preview import Preview, preview
from tidings.templates.store import SaveResult, TemplateKey, VersionInfo
from tidings.web.deps import (
    Forbidden,
    Principal,
    ReadSessionDep,
    WriteSessionDep,
    read_sessions,
    require_role,
    write_sessions,
)
from tidings.web.editor import (
    diff_view,
    editor_context,
    editor_url,
    matrix_context,
    preview_context,
    scopes_for,
)
from tidings.web.pages import render

EDITORS = require_role(Role.BRAND_MANAGER, Role.ADMIN)
PAGE_EDITORS = require_role(Role.BRAND_MANAGER, Role.ADMIN, tokens=False)
Editor = Annotated[Principal, Depends(EDITORS)]
PageEditor = Annotated[Principal, Depends(PAGE_EDITORS)]

SLOT_PATH = "/{brand}/{event}/{channel}/{language}"
Source = Field(max_length=MAX_SOURCE_CHARS)
Note = Field(default=None, max_length=500)
P = ParamSpec("P")
T = TypeVar("T")


class SlotRef(BaseModel):
    """A template slot as the API names it: ``brand`` is a slug, or ``_default``."""

    brand: str = Field(max_length=40, examples=["kapas"])
    event: str = Field(max_length=64, examples=["delayed"])
    channel: ChannelKind
    language: str = Field(max_length=8, examples=["hi"])


def slot_ref(
    brand: Annotated[str, Path(max_length=40, description="a brand's slug, or _default")],
    event: Annotated[str, Path(max_length=64)],
    channel: ChannelKind,
    language: Annotated[str, Path(max_length=8)],
) -> SlotRef:
    """The slot a path names."""
    return SlotRef(brand=brand, event=event, channel=channel, language=language)


Slot = Annotated[SlotRef, Depends(slot_ref)]


class TemplateVersionCreate(SlotRef):
    """A new version of a slot. ``base_version`` is the version the edit began from (0 for an
    empty slot): when someone saved another since, the answer is 409 instead of a silent
    overwrite. Saving the slot's newest text again adds nothing (200 instead of 201)."""

    body: str = Source
    subject: str | None = Field(default=None, max_length=MAX_SOURCE_CHARS)
    note: str | None = Note
    base_version: int | None = Field(default=None, ge=0)
    publish: bool = Field(default=False, description="publish it at once")


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
        scopes = [_scope(user, brand)] if brand else scopes_for(session, user)
        return [_run(scope_matrix, session=session, slug=_store_scope(s)) for s in scopes]

    @router.get("/api/templates" + SLOT_PATH)
    def api_slot(session: ReadSessionDep, user: Editor, ref: Slot) -> SlotDetail:
        """One slot: its versions, what customers get today, its WhatsApp approval."""
        return _run(slot_detail, session=session, key=_key(user, ref))

    @router.get("/api/templates" + SLOT_PATH + "/diff")
    def api_diff(
        session: ReadSessionDep,
        user: Editor,
        ref: Slot,
        old: Annotated[int, Query(ge=1)],
        new: Annotated[int, Query(ge=1)],
    ) -> TemplateDiff:
        """A unified diff from version ``old`` to version ``new``."""
        text = _run(store.diff, session=session, key=_key(user, ref), old=old, new=new)
        return TemplateDiff(old=old, new=new, diff=text)

    @router.post("/api/templates", status_code=201)
    def api_save(
        change: TemplateVersionCreate, session: WriteSessionDep, user: Editor, response: Response
    ) -> SaveResult:
        """Save a new version (a draft, or published with ``publish``); 422 lists each problem
        with its line, 409 when someone saved another version since ``base_version``."""
        saved = _save(session, user, _key(user, change), change)
        if not saved.created:
            response.status_code = 200
        return saved

    @router.post("/api/templates/preview")
    def api_preview(
        request_body: TemplatePreviewRequest, session: ReadSessionDep, user: Editor
    ) -> Preview:
        """Render a source on a sample order, with every issue a save would report."""
        return _run(
            preview,
            session=session,
            key=_key(user, request_body),
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
        return _run(
            store.publish, session=session, key=_key(user, ref), version=ask.version, by=user.name
        )

    @router.post("/api/templates" + SLOT_PATH + "/rollback")
    def api_rollback(
        ask: RollbackRequest,
        session: WriteSessionDep,
        user: Editor,
        ref: Slot,
    ) -> VersionInfo:
        """Publish an older version's text again, as a new version (history stays intact)."""
        return _run(
            store.rollback,
            session=session,
            key=_key(user, ref),
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
            _scope(user, brand)
        context = _run(matrix_context, session, user, brand)
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
        key = _key(user, ref)
        context = _run(editor_context, session, key, start=start, diff=(old, new), done=done)
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
        key = _key(user, ref)
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
                saved = _save(session, user, key, change)
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
        key = _key(user, ref)
        shown = _run(
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
        key = _key(user, ref)
        if "HX-Request" not in request.headers:
            return RedirectResponse(f"{editor_url(key)}?old={old}&new={new}", status_code=303)
        text = _run(store.diff, session=session, key=key, old=old, new=new)
        return render(request, "editor/diff.html", {"diff": diff_view(old=old, new=new, text=text)})

    @router.post("/templates" + SLOT_PATH + "/publish", include_in_schema=False)
    def page_publish(
        request: Request,
        user: PageEditor,
        ref: Slot,
        version: Annotated[int, Form(ge=1)],
    ) -> Response:
        """A history row's Publish button."""
        key = _key(user, ref)
        try:
            with transaction(write_sessions(request)) as session:
                _run(store.publish, session=session, key=key, version=version, by=user.name)
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
        key = _key(user, ref)
        try:
            with transaction(write_sessions(request)) as session:
                rolled = _run(
                    store.rollback,
                    session=session,
                    key=key,
                    to_version=to_version,
                    author=user.name,
                )
        except HTTPException as exc:
            return _editor_again(request, key, None, exc)
        return _back_to(key, f"rolled-{to_version}-{rolled.version}")


def _scope(user: Principal, brand: str) -> str:
    """``brand`` if this user may edit it: brand managers their own brands, admins all."""
    if user.has(Role.ADMIN) or brand in user.brands:
        return brand
    theirs = ", ".join(user.brands) or "no brand yet"
    raise Forbidden(f"{user.name} edits the templates of {theirs}, not of {brand}")


def _store_scope(brand: str) -> str | None:
    return None if brand == DEFAULT_SCOPE else brand


def _key(user: Principal, ref: SlotRef) -> TemplateKey:
    scope = _store_scope(_scope(user, ref.brand))
    try:
        return TemplateKey(brand=scope, event=ref.event, channel=ref.channel, language=ref.language)
    except ValidationError as exc:
        problems = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise HTTPException(404, f"no such template slot: {problems}") from None


def _save(
    session: Session, user: Principal, key: TemplateKey, change: TemplateVersionCreate
) -> SaveResult:
    saved = _run(
        store.save_draft,
        session=session,
        key=key,
        body=change.body,
        subject=change.subject if key.channel is ChannelKind.EMAIL else None,
        author=user.name,
        note=change.note,
        base_version=change.base_version,
    )
    if change.publish:
        version = _run(
            store.publish, session=session, key=key, version=saved.version.version, by=user.name
        )
        saved = saved.model_copy(update={"version": version})
    return saved


def _run(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call into ``tidings.templates``, turning its errors into HTTP answers."""
    try:
        return call(*args, **kwargs)
    except TemplateError as exc:
        raise _http_error(exc) from exc


def _http_error(exc: TemplateError) -> HTTPException:
    if isinstance(exc, TemplateValidationError):
        issues = [issue for issue in exc.issues if isinstance(issue, BaseModel)]
        detail = {"message": str(exc), "issues": [issue.model_dump() for issue in issues]}
        return HTTPException(422, detail)
    if isinstance(exc, TemplateNotFoundError):
        return HTTPException(404, str(exc))
    if isinstance(exc, TemplateConflictError):
        return HTTPException(409, str(exc))
    return HTTPException(422, str(exc))


def _back_to(key: TemplateKey, done: str) -> RedirectResponse:
    return RedirectResponse(f"{editor_url(key)}?done={done}", status_code=303)


def _editor_again(
    request: Request, key: TemplateKey, change: TemplateVersionCreate | None, exc: HTTPException
) -> HTMLResponse:
    """The editor with the user's text and what went wrong (a 4xx page, never a lost edit)."""
    with read_sessions(request)() as session:
        context = _run(editor_context, session, key, failed=exc, change=change)
    return render(request, "editor/edit.html", context, status_code=exc.status_code)
