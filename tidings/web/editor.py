"""What the template editor's pages show, gathered from ``tidings.templates``: the matrix page
(tabs per brand, the grid of cells) and one slot's editor (its text, the preview, history, a
diff, the same message in the brand's other languages, the variables it may use)."""

from __future__ import annotations

import re
from typing import Any, Final, NamedTuple

from fastapi import HTTPException
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.store.enums import ChannelKind, Role, TemplateStatus
from tidings.store.models import BrandRow
from tidings.templates import store
from tidings.templates.contract import CHANNELS, DEFAULT_SCOPE, EVENTS, LANGUAGES
from tidings.templates.matrix import (
    ScopeMatrix,
    SlotDetail,
    effective,
    scope_label,
    scope_matrix,
    slot_detail,
)
from tidings.templates.preview import Preview, preview, render_sample, variable_hints
from tidings.templates.store import TemplateKey
from tidings.web.deps import Principal
from tidings.web.template_access import store_scope

LANGUAGE_NAMES: Final = {
    "en": "English",
    "hi": "हिन्दी Hindi",
    "id": "Bahasa Indonesia",
    "ms": "Bahasa Melayu",
}
# Whose sample order a preview uses: one customer per language (tidings.templates.samples).
SAMPLE_NAMES: Final = {
    "en": "Asha Rao (English)",
    "hi": "रोहित वर्मा (Hindi)",
    "id": "Siti Rahayu (Indonesian)",
    "ms": "Nur Aisyah (Malay)",
}
CHANNEL_NAMES: Final = {
    ChannelKind.WHATSAPP: "WhatsApp",
    ChannelKind.SMS: "SMS",
    ChannelKind.EMAIL: "Email",
}
_DONE = re.compile(r"^(saved|published|rolled)-(\d+)(?:-(\d+))?$")


def event_title(event: str) -> str:
    """``failed_attempt`` -> ``Failed attempt``."""
    return event.replace("_", " ").capitalize()


def names() -> dict[str, Any]:
    """Labels every editor page uses."""
    return {
        "language_names": LANGUAGE_NAMES,
        "channel_names": {str(kind): name for kind, name in CHANNEL_NAMES.items()},
        "event_title": event_title,
        "events": EVENTS,
        "channels": [str(kind) for kind in CHANNELS],
        "default_scope": DEFAULT_SCOPE,
    }


def preview_context(key: TemplateKey, shown: Preview) -> dict[str, Any]:
    """The live preview fragment, with the issues for htmx to swap in beside it."""
    return {**names(), "sample_names": SAMPLE_NAMES, "key": key, "p": shown, "oob": True}


def scopes_for(session: Session, user: Principal) -> list[str]:
    """The scopes a user may edit: admins every brand and the default copy, brand managers
    their own brands."""
    slugs = list(session.scalars(select(BrandRow.slug).order_by(BrandRow.slug)))
    if user.has(Role.ADMIN):
        return [*slugs, DEFAULT_SCOPE]
    return [slug for slug in slugs if slug in user.brands]


class Tab(BaseModel):
    """A brand's tab above the matrix, with what needs a look there."""

    brand: str
    name: str
    flags: int
    drafts: int


def matrix_context(session: Session, user: Principal, brand: str | None) -> dict[str, Any]:
    """The matrix page: one tab per scope the user may edit, and the chosen scope's grid."""
    scopes = scopes_for(session, user)
    if brand is not None and brand not in scopes:
        raise HTTPException(404, f"no brand {brand!r}: the brands are {', '.join(scopes)}")
    matrices = [scope_matrix(session=session, slug=store_scope(scope)) for scope in scopes]
    tabs = [
        Tab(brand=m.brand, name=m.name, flags=m.counts()["flags"], drafts=m.counts()["drafts"])
        for m in matrices
    ]
    current: ScopeMatrix | None = (
        next((m for m in matrices if m.brand == (brand or scopes[0])), None) if scopes else None
    )
    cells = {}
    if current is not None:
        cells = {f"{c.event}/{c.channel}/{c.language}": c for c in current.cells}
    return {
        **names(),
        "tabs": tabs,
        "m": current,
        "cells": cells,
        "counts": current.counts() if current else {},
        "whatsapp": current.whatsapp_counts() if current else {},
    }


def editor_context(
    session: Session,
    key: TemplateKey,
    *,
    start: int | None = None,
    diff: tuple[int | None, int | None] = (None, None),
    done: str | None = None,
    failed: HTTPException | None = None,
    change: Any = None,
) -> dict[str, Any]:
    """The editor for one slot. ``start`` loads that version's text; ``change`` (a
    ``TemplateVersionCreate`` that ``failed``) keeps the user's own text on the page."""
    detail = slot_detail(session=session, key=key)
    brand = store.scope_brand(session=session, slug=key.brand)
    newest = detail.newest()
    base_version = newest.version if newest else 0
    if change is not None:
        opened = StartingText(change.body, change.subject, "your edit, not saved", None)
        note = change.note
        if failed is not None and failed.status_code == 422 and change.base_version is not None:
            base_version = change.base_version  # still unsaved: someone else's save still counts
    else:
        opened, note = _starting_text(detail, start), None
    shown = preview(session=session, key=key, body=opened.body, subject=opened.subject)
    return {
        **names(),
        "key": key,
        "scope": scope_label(key.brand),
        "scope_name": brand.name if brand else "Default copy",
        "url": editor_url(key),
        "d": detail,
        "draft": _waiting_draft(detail),
        "languages": list(brand.languages) if brand else list(LANGUAGES),
        "sample_names": SAMPLE_NAMES,
        "body": opened.body,
        "subject": opened.subject,
        "note": note,
        "loaded": opened.label,
        "loaded_version": opened.version,
        "base_version": base_version,
        "p": shown,
        "error": _error_text(failed, saving=change is not None),
        "flash": _flash(done),
        "diff": _diff(session, key, diff),
        "others": _other_languages(session, key, brand.languages if brand else LANGUAGES),
        "hints": variable_hints(key.event, key.language, brand=brand, channel=key.channel),
    }


def editor_url(key: TemplateKey) -> str:
    """Where a slot's editor is."""
    return f"/templates/{scope_label(key.brand)}/{key.event}/{key.channel}/{key.language}"


class StartingText(NamedTuple):
    """The text the editor opens with, and where it came from."""

    body: str
    subject: str | None
    label: str
    version: int | None  # the slot's version it is, if any


def _starting_text(detail: SlotDetail, start: int | None) -> StartingText:
    """Version ``start``, else the newest version, else what customers get today through the
    fallback chain, else nothing."""
    if start is not None:
        chosen = next((v for v in detail.versions if v.version == start), None)
        if chosen is None:
            raise HTTPException(404, f"no v{start} of this template: see the history")
        return StartingText(chosen.body, chosen.subject, f"from v{start} ({chosen.status})", start)
    newest = detail.newest()
    if newest is not None:
        label = f"v{newest.version} ({newest.status})"
        return StartingText(newest.body, newest.subject, label, newest.version)
    if detail.effective is not None:
        found = detail.effective
        return StartingText(found.body, found.subject, f"starting from {found.source}", None)
    return StartingText("", None, "empty: nothing to start from", None)


def _waiting_draft(detail: SlotDetail) -> int | None:
    newest = detail.newest()
    if newest is None or newest.status is not TemplateStatus.DRAFT:
        return None
    return newest.version


def _error_text(failed: HTTPException | None, *, saving: bool) -> str | None:
    if failed is None:
        return None
    if isinstance(failed.detail, dict):  # a validation error: its issues are listed in place
        if saving:
            return "Not saved: fix the errors marked below, then save again."
        return str(failed.detail.get("message", "refused"))
    return str(failed.detail)


def _flash(done: str | None) -> str | None:
    found = _DONE.match(done or "")
    if found is None:
        return None
    verb, first, second = found.groups()
    if verb == "saved":
        return f"Saved as draft v{first}. Publish it from the history when it reads right."
    if verb == "published":
        return f"Published v{first}: customers get it from now on."
    return f"Rolled back: v{second} publishes the text of v{first} again."


class DiffView(BaseModel):
    """A diff for the page: the two versions and the diff's lines."""

    old: int
    new: int
    lines: list[str]


def _diff(
    session: Session, key: TemplateKey, versions: tuple[int | None, int | None]
) -> DiffView | None:
    old, new = versions
    if old is None or new is None:
        return None
    return diff_view(old=old, new=new, text=store.diff(session=session, key=key, old=old, new=new))


def diff_view(*, old: int, new: int, text: str) -> DiffView:
    """A diff's text as lines for the page."""
    return DiffView(old=old, new=new, lines=text.splitlines())


class OtherLanguage(BaseModel):
    """The same event and channel in another of the scope's languages, as customers get it."""

    language: str
    url: str
    source: str | None
    shown: Preview | None


def _other_languages(session: Session, key: TemplateKey, languages: Any) -> list[OtherLanguage]:
    found = []
    for language in languages:
        if language == key.language:
            continue
        other = key.model_copy(update={"language": language})
        current = effective(session=session, key=other)
        shown = None
        if current is not None:
            shown = render_sample(
                session=session, key=other, body=current.body, subject=current.subject
            )
        found.append(
            OtherLanguage(
                language=language,
                url=editor_url(other),
                source=current.source if current else None,
                shown=shown,
            )
        )
    return found
