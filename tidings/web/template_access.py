"""Who may touch which template slot, and the template store's errors as HTTP answers: what
the editor's pages and its API (``tidings.web.routes.templates``) share.

Brand managers edit their own brands' templates, admins every brand's and the default copy
(``_default``); ops none. Both the access policy (``EDITORS``, by role) and the scope check
(``editable_scope``, by brand) apply to every route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, HTTPException, Path
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from tidings.errors import (
    TemplateConflictError,
    TemplateError,
    TemplateNotFoundError,
    TemplateValidationError,
)
from tidings.store.enums import ChannelKind, Role
from tidings.templates import store
from tidings.templates.contract import DEFAULT_SCOPE, MAX_SOURCE_CHARS
from tidings.templates.store import SaveResult, TemplateKey
from tidings.web.deps import Forbidden, Principal, require_role

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


def editable_scope(user: Principal, brand: str) -> str:
    """``brand`` if this user may edit it: brand managers their own brands, admins all."""
    if user.has(Role.ADMIN) or brand in user.brands:
        return brand
    theirs = ", ".join(user.brands) or "no brand yet"
    raise Forbidden(f"{user.name} edits the templates of {theirs}, not of {brand}")


def store_scope(brand: str) -> str | None:
    """The store's scope for a path's brand: None for the default copy."""
    return None if brand == DEFAULT_SCOPE else brand


def slot_key(user: Principal, ref: SlotRef) -> TemplateKey:
    """The store's key for a slot this user may edit: 403 for another brand, 404 for an
    event or language the contract does not have."""
    scope = store_scope(editable_scope(user, ref.brand))
    try:
        return TemplateKey(brand=scope, event=ref.event, channel=ref.channel, language=ref.language)
    except ValidationError as exc:
        problems = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise HTTPException(404, f"no such template slot: {problems}") from None


def save_version(
    session: Session, user: Principal, key: TemplateKey, change: TemplateVersionCreate
) -> SaveResult:
    """Save ``change`` as a new version by ``user``, and publish it when asked."""
    saved = call_store(
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
        version = call_store(
            store.publish, session=session, key=key, version=saved.version.version, by=user.name
        )
        saved = saved.model_copy(update={"version": version})
    return saved


def call_store(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call into ``tidings.templates``, turning its errors into HTTP answers."""
    try:
        return call(*args, **kwargs)
    except TemplateError as exc:
        raise http_error(exc) from exc


def http_error(exc: TemplateError) -> HTTPException:
    """422 with each issue for validation, 404 for what does not exist, 409 for conflicts."""
    if isinstance(exc, TemplateValidationError):
        issues = [issue for issue in exc.issues if isinstance(issue, BaseModel)]
        detail = {"message": str(exc), "issues": [issue.model_dump() for issue in issues]}
        return HTTPException(422, detail)
    if isinstance(exc, TemplateNotFoundError):
        return HTTPException(404, str(exc))
    if isinstance(exc, TemplateConflictError):
        return HTTPException(409, str(exc))
    return HTTPException(422, str(exc))
