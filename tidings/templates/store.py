"""The template store: drafts, publishing, rollback, diff and history.

Every edit is a new ``TemplateVersion``; nothing is overwritten. Publishing archives the
previously published version in the same transaction, and a partial unique index makes the
database refuse two published versions of one slot.
"""

from __future__ import annotations

import difflib
from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.errors import (
    TemplateConflictError,
    TemplateNotFoundError,
    TemplateValidationError,
)
from tidings.store.enums import ChannelKind, TemplateStatus
from tidings.store.models import AuditEntry, BrandRow, Template, TemplateVersion
from tidings.templates.contract import DEFAULT_SCOPE, EVENTS, LANGUAGES
from tidings.templates.lookup import published_slots
from tidings.templates.validate import Issue, errors, validate_template


class TemplateKey(BaseModel):
    """A template slot: (brand, event, channel, language); ``brand`` None is the default."""

    model_config = ConfigDict(frozen=True)

    brand: str | None = None
    event: str
    channel: ChannelKind
    language: str

    @field_validator("event")
    @classmethod
    def _known_event(cls, value: str) -> str:
        if value not in EVENTS:
            raise ValueError(f"unknown event {value!r}; events: {', '.join(EVENTS)}")
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}; languages: {', '.join(LANGUAGES)}")
        return value

    def label(self) -> str:
        """``kapas/delayed/sms/hi``: how people and the CLI name a slot."""
        return f"{self.brand or DEFAULT_SCOPE}/{self.event}/{self.channel}/{self.language}"


class VersionInfo(BaseModel):
    """One version of a template, as the editor and the CLI show it."""

    id: int
    version: int
    status: TemplateStatus
    author: str
    created_at: datetime
    note: str | None
    subject: str | None
    body: str

    @classmethod
    def of(cls, row: TemplateVersion) -> VersionInfo:
        """From a row."""
        return cls.model_validate(row, from_attributes=True)


class SaveResult(BaseModel):
    """A saved version and the warnings that did not block it (missing translations);
    ``created`` is false when the text was already the slot's newest version (a replayed save)."""

    version: VersionInfo
    warnings: list[Issue]
    created: bool = True


def _brand_row(session: Session, slug: str | None) -> BrandRow | None:
    if slug is None:
        return None
    row = session.scalars(select(BrandRow).where(BrandRow.slug == slug)).one_or_none()
    if row is None:
        raise TemplateNotFoundError(
            f"brand {slug!r} is not in the database: run `tidings seed` or load the brands first"
        )
    return row


def _brand_of(row: BrandRow | None) -> Brand | None:
    return Brand.model_validate(row.config) if row is not None and row.config else None


def scope_brand(*, session: Session, slug: str | None) -> Brand | None:
    """The brand's configuration for a scope (None for the default copy);
    ``TemplateNotFoundError`` for a brand the database does not know."""
    return _brand_of(_brand_row(session, slug))


def _slot(
    session: Session, key: TemplateKey, *, create: bool, lock: bool = False
) -> Template | None:
    brand = _brand_row(session, key.brand)
    query = select(Template).where(
        Template.event == key.event,
        Template.channel == key.channel,
        Template.language == key.language,
        Template.brand_id.is_(None) if brand is None else Template.brand_id == brand.id,
    )
    if lock:
        query = query.with_for_update()  # serialises edits of one slot on PostgreSQL
    slot = session.scalars(query).one_or_none()
    if slot is None and create:
        slot = Template(
            brand_id=brand.id if brand else None,
            event=key.event,
            channel=key.channel,
            language=key.language,
        )
        try:
            with session.begin_nested():
                session.add(slot)
        except IntegrityError:  # created meanwhile by a concurrent save
            slot = session.scalars(query).one()
    return slot


def _require_slot(session: Session, key: TemplateKey, *, lock: bool = False) -> Template:
    slot = _slot(session, key, create=False, lock=lock)
    if slot is None:
        raise TemplateNotFoundError(f"no template {key.label()}: save a draft first")
    return slot


def _version(session: Session, slot: Template, number: int) -> TemplateVersion:
    row = session.scalars(
        select(TemplateVersion).where(
            TemplateVersion.template_id == slot.id, TemplateVersion.version == number
        )
    ).one_or_none()
    if row is None:
        raise TemplateNotFoundError(f"template version v{number} does not exist: see the history")
    return row


def _newest(session: Session, slot: Template) -> TemplateVersion | None:
    return session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.template_id == slot.id)
        .order_by(TemplateVersion.version.desc())
        .limit(1)
    ).one_or_none()


def _next_number(session: Session, slot: Template) -> int:
    latest = session.scalar(
        select(func.max(TemplateVersion.version)).where(TemplateVersion.template_id == slot.id)
    )
    return (latest or 0) + 1


def check(
    *, session: Session, key: TemplateKey, body: str, subject: str | None = None
) -> list[Issue]:
    """Validate a template for ``key`` without saving it: errors and warnings."""
    brand = _brand_of(_brand_row(session, key.brand))
    issues = validate_template(
        event=key.event,
        channel=key.channel,
        language=key.language,
        body=body,
        subject=subject,
        brand=brand,
    )
    return issues + missing_translations(session=session, key=key)


def _refuse_errors(key: TemplateKey, issues: list[Issue]) -> None:
    blocking = errors(issues)
    if blocking:
        lines = "\n".join(f"  {issue}" for issue in blocking)
        raise TemplateValidationError(
            f"template {key.label()} was not saved:\n{lines}", issues=tuple(blocking)
        )


def save_draft(
    *,
    session: Session,
    key: TemplateKey,
    body: str,
    subject: str | None = None,
    author: str,
    note: str | None = None,
    base_version: int | None = None,
) -> SaveResult:
    """Validate and save a new draft version; ``TemplateValidationError`` lists what blocks it.

    Saving the text the slot's newest version already has adds nothing (a form posted twice).
    ``base_version`` is the version the edit began from (0: an empty slot): when someone saved
    another since, ``TemplateConflictError`` says so instead of burying their change.
    """
    issues = check(session=session, key=key, body=body, subject=subject)
    _refuse_errors(key, issues)
    slot = _slot(session, key, create=True, lock=True)
    assert slot is not None  # noqa: S101 - create=True
    newest = _newest(session, slot)
    if newest is not None and _same_text(newest, key, body, subject):
        return SaveResult(version=VersionInfo.of(newest), warnings=issues, created=False)
    if base_version is not None and (newest.version if newest else 0) != base_version:
        assert newest is not None  # noqa: S101 - an empty slot is version 0
        raise TemplateConflictError(
            f"{key.label()} has v{newest.version} by {newest.author} "
            f"({newest.created_at:%Y-%m-%d %H:%M} UTC), saved after v{base_version} that your "
            "edit began from: look at it in the history, then save again to put yours on top"
        )
    row = add_version(
        session=session, slot=slot, body=body, subject=subject, author=author, note=note
    )
    _audit(session, key, row, "template:save", actor=author)
    return SaveResult(version=VersionInfo.of(row), warnings=issues)


def _audit(
    session: Session, key: TemplateKey, row: TemplateVersion, action: str, *, actor: str
) -> None:
    """Who changed what customers may get, in the audit log beside the agent's actions."""
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            entity="template_version",
            entity_id=str(row.id),
            details={"template": key.label(), "version": row.version},
        )
    )


def _same_text(row: TemplateVersion, key: TemplateKey, body: str, subject: str | None) -> bool:
    stored_subject = subject if key.channel is ChannelKind.EMAIL else None
    return row.body == body and row.subject == stored_subject


def add_version(
    *,
    session: Session,
    slot: Template,
    body: str,
    subject: str | None,
    author: str,
    note: str | None,
    status: TemplateStatus = TemplateStatus.DRAFT,
) -> TemplateVersion:
    """Append a version to a slot (no validation: callers validate); publishing archives the
    previous published version."""
    if status is TemplateStatus.PUBLISHED:
        _archive_published(session, slot)
    row = TemplateVersion(
        template_id=slot.id,
        version=_next_number(session, slot),
        status=status,
        subject=subject if slot.channel is ChannelKind.EMAIL else None,
        body=body,
        author=author,
        note=note,
    )
    session.add(row)
    session.flush()
    return row


def _archive_published(session: Session, slot: Template) -> None:
    session.execute(
        update(TemplateVersion)
        .where(
            TemplateVersion.template_id == slot.id,
            TemplateVersion.status == TemplateStatus.PUBLISHED,
        )
        .values(status=TemplateStatus.ARCHIVED)
        .execution_options(synchronize_session="fetch")
    )


def publish(
    *, session: Session, key: TemplateKey, version: int, by: str | None = None
) -> VersionInfo:
    """Publish a draft: it becomes what customers get, and the previous one is archived.
    ``by`` is who publishes (the audit log's actor; the draft's author when not given)."""
    slot = _require_slot(session, key, lock=True)
    row = _version(session, slot, version)
    if row.status is TemplateStatus.PUBLISHED:
        return VersionInfo.of(row)
    if row.status is TemplateStatus.ARCHIVED:
        raise TemplateConflictError(
            f"v{version} of {key.label()} is archived: roll back to it instead, which publishes "
            "it as a new version"
        )
    _refuse_errors(key, check(session=session, key=key, body=row.body, subject=row.subject))
    _archive_published(session, slot)
    row.status = TemplateStatus.PUBLISHED
    session.flush()
    _audit(session, key, row, "template:publish", actor=by or row.author)
    return VersionInfo.of(row)


def rollback(
    *, session: Session, key: TemplateKey, to_version: int, author: str, note: str | None = None
) -> VersionInfo:
    """Publish the text of an older version as a new version; history stays intact. When the
    published version already has that text, nothing is added (a rollback replayed)."""
    slot = _require_slot(session, key, lock=True)
    old = _version(session, slot, to_version)
    current = _published_row(session, slot)
    if current is not None and _same_text(current, key, old.body, old.subject):
        return VersionInfo.of(current)
    _refuse_errors(key, check(session=session, key=key, body=old.body, subject=old.subject))
    row = add_version(
        session=session,
        slot=slot,
        body=old.body,
        subject=old.subject,
        author=author,
        note=note or f"rollback to v{to_version}",
        status=TemplateStatus.PUBLISHED,
    )
    _audit(session, key, row, "template:rollback", actor=author)
    return VersionInfo.of(row)


def history(*, session: Session, key: TemplateKey) -> list[VersionInfo]:
    """Every version of a slot, oldest first."""
    slot = _slot(session, key, create=False)
    if slot is None:
        return []
    rows = session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.template_id == slot.id)
        .order_by(TemplateVersion.version)
    )
    return [VersionInfo.of(row) for row in rows]


def diff(*, session: Session, key: TemplateKey, old: int, new: int) -> str:
    """A unified diff between two versions (subject first, for email)."""
    slot = _require_slot(session, key)
    before, after = _version(session, slot, old), _version(session, slot, new)
    return "".join(
        difflib.unified_diff(
            _diff_lines(before),
            _diff_lines(after),
            fromfile=f"{key.label()} v{old} ({before.author}, {before.created_at:%Y-%m-%d %H:%M})",
            tofile=f"{key.label()} v{new} ({after.author}, {after.created_at:%Y-%m-%d %H:%M})",
        )
    )


def _diff_lines(row: TemplateVersion) -> list[str]:
    lines = [f"Subject: {row.subject}\n", "\n"] if row.subject is not None else []
    body = row.body if row.body.endswith("\n") else row.body + "\n"
    return lines + body.splitlines(keepends=True)


def published(*, session: Session, key: TemplateKey) -> VersionInfo | None:
    """The published version of a slot, if any."""
    slot = _slot(session, key, create=False)
    if slot is None:
        return None
    row = _published_row(session, slot)
    return VersionInfo.of(row) if row else None


def _published_row(session: Session, slot: Template) -> TemplateVersion | None:
    return session.scalars(
        select(TemplateVersion).where(
            TemplateVersion.template_id == slot.id,
            TemplateVersion.status == TemplateStatus.PUBLISHED,
        )
    ).one_or_none()


def missing_translations(*, session: Session, key: TemplateKey) -> list[Issue]:
    """Warnings for the languages the scope offers that have no published version of this
    event and channel (customers speaking them get another language)."""
    brand = _brand_of(_brand_row(session, key.brand))
    offered = brand.languages if brand else list(LANGUAGES)
    have = {
        lang
        for slug, event, channel, lang in published_slots(session=session)
        if slug == key.brand and event == key.event and channel is key.channel
    }
    have.add(key.language)
    scope = key.brand or DEFAULT_SCOPE
    return [
        Issue(
            severity="warning",
            message=f"{scope} offers {lang} but has no published {lang} {key.event} "
            f"{key.channel} template: {lang} speakers get the next one on the fallback chain",
        )
        for lang in offered
        if lang not in have
    ]
