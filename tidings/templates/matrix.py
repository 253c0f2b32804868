"""What the template editor shows: one scope's (event, language, channel) matrix, and one slot.

A cell says what a customer of that brand speaking that language gets on that channel, with
the same fallback chain as sending (``lookup.fallback_chain``) and the same words as ``tidings
templates check``: ``missing`` when nothing on the chain is published, ``untranslated`` when the
first published template is in another language. WhatsApp cells carry the approval status of
the brand's template in Twilio's registry (``whatsapp_templates``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.store.enums import ChannelKind, TemplateStatus
from tidings.store.models import BrandRow, Template, TemplateVersion
from tidings.store.models.channels import WhatsAppApproval, WhatsAppTemplate
from tidings.templates.contract import CHANNELS, DEFAULT_SCOPE, EVENTS, LANGUAGES
from tidings.templates.lookup import candidates, fallback_chain
from tidings.templates.store import TemplateKey, VersionInfo, history, scope_brand

CellState = Literal["own", "inherited", "untranslated", "missing"]
FLAGGED: frozenset[CellState] = frozenset({"untranslated", "missing"})
# (scope slug or None, event, channel, language) -> (published version, newest draft)
_Slots = dict[tuple[str | None, str, ChannelKind, str], tuple[int | None, int | None]]


class WhatsAppStatus(BaseModel):
    """A brand's WhatsApp template for one event and language, as Twilio's registry has it."""

    approval: WhatsAppApproval
    friendly_name: str
    content_sid: str | None
    rejection_reason: str | None
    synced_at: datetime | None
    body: str

    @classmethod
    def of(cls, row: WhatsAppTemplate) -> WhatsAppStatus:
        """From a registry row."""
        return cls(
            approval=row.approval_status,
            friendly_name=row.friendly_name,
            content_sid=row.content_sid,
            rejection_reason=row.rejection_reason,
            synced_at=row.synced_at,
            body=row.body,
        )


class MatrixCell(BaseModel):
    """One (event, language, channel) of a scope: what customers get, and the slot's own state.

    ``source`` names the template they get (``kapas/hi v3``) and ``source_language`` its
    language; ``published`` and ``draft`` are the scope's own slot (a draft only when newer
    than the published version)."""

    event: str
    language: str
    channel: ChannelKind
    state: CellState
    source: str | None
    source_language: str | None
    published: int | None
    draft: int | None
    whatsapp: WhatsAppStatus | None = None


class ScopeMatrix(BaseModel):
    """A brand's (or the default copy's) matrix: every event x its languages x every channel."""

    brand: str
    name: str
    languages: list[str]
    cells: list[MatrixCell]

    def cell(self, event: str, language: str, channel: str) -> MatrixCell:
        """The cell at (event, language, channel)."""
        return next(
            c
            for c in self.cells
            if (c.event, c.language, c.channel) == (event, language, ChannelKind(channel))
        )

    def counts(self) -> dict[str, int]:
        """Cells per state, drafts waiting, and flags (missing plus untranslated)."""
        counted = Counter(cell.state for cell in self.cells)
        found: dict[str, int] = {state: counted.get(state, 0) for state in get_args(CellState)}
        found["drafts"] = sum(1 for cell in self.cells if cell.draft is not None)
        found["flags"] = found["missing"] + found["untranslated"]
        return found

    def whatsapp_counts(self) -> dict[str, int]:
        """WhatsApp cells per approval status (``none``: no template in the registry)."""
        return dict(
            Counter(
                cell.whatsapp.approval.value if cell.whatsapp else "none"
                for cell in self.cells
                if cell.channel is ChannelKind.WHATSAPP
            )
        )


def scope_label(slug: str | None) -> str:
    """``kapas``, or ``_default`` for the default copy."""
    return slug or DEFAULT_SCOPE


def scope_matrix(*, session: Session, slug: str | None) -> ScopeMatrix:
    """The matrix of one brand (``slug``) or of the default copy (None)."""
    brand = scope_brand(session=session, slug=slug)
    languages = list(brand.languages) if brand else list(LANGUAGES)
    slots = _slot_versions(session, slug)
    whatsapp = _whatsapp(session, slug)
    cells = [
        _cell(brand, slug, slots, whatsapp, event, language, channel)
        for event in EVENTS
        for language in languages
        for channel in CHANNELS
    ]
    name = brand.name if brand else "Default copy"
    return ScopeMatrix(brand=scope_label(slug), name=name, languages=languages, cells=cells)


def _cell(
    brand: Brand | None,
    slug: str | None,
    slots: _Slots,
    whatsapp: dict[tuple[str, str], WhatsAppStatus],
    event: str,
    language: str,
    channel: ChannelKind,
) -> MatrixCell:
    published, draft = slots.get((slug, event, channel, language), (None, None))
    first = next(
        (
            (scope, lang, slots[(scope, event, channel, lang)][0])
            for scope, lang in fallback_chain(brand, language)
            if slots.get((scope, event, channel, lang), (None, None))[0] is not None
        ),
        None,
    )
    state: CellState = "missing"
    source = lang = None
    if first is not None:
        scope, lang, version = first
        source = f"{scope_label(scope)}/{lang} v{version}"
        state = "untranslated" if lang != language else "own" if scope == slug else "inherited"
    return MatrixCell(
        event=event,
        language=language,
        channel=channel,
        state=state,
        source=source,
        source_language=lang,
        published=published,
        draft=draft if draft is not None and (published is None or draft > published) else None,
        whatsapp=whatsapp.get((event, language)) if channel is ChannelKind.WHATSAPP else None,
    )


def _slot_versions(session: Session, slug: str | None) -> _Slots:
    """Published and newest draft version of every slot of the scope and the default copy."""
    status = TemplateVersion.status
    rows = session.execute(
        select(
            BrandRow.slug,
            Template.event,
            Template.channel,
            Template.language,
            func.max(case((status == TemplateStatus.PUBLISHED, TemplateVersion.version))),
            func.max(case((status == TemplateStatus.DRAFT, TemplateVersion.version))),
        )
        .join(TemplateVersion, TemplateVersion.template_id == Template.id)
        .outerjoin(BrandRow, BrandRow.id == Template.brand_id)
        .where(Template.brand_id.is_(None) | (BrandRow.slug == slug))
        .group_by(BrandRow.slug, Template.event, Template.channel, Template.language)
    ).all()
    return {
        (scope, event, ChannelKind(channel), language): (published, draft)
        for scope, event, channel, language, published, draft in rows
    }


def _whatsapp(session: Session, slug: str | None) -> dict[tuple[str, str], WhatsAppStatus]:
    if slug is None:  # the registry is per brand: the default copy has no WhatsApp templates
        return {}
    rows = session.scalars(
        select(WhatsAppTemplate)
        .join(BrandRow, BrandRow.id == WhatsAppTemplate.brand_id)
        .where(BrandRow.slug == slug)
    )
    return {(row.event, row.language): WhatsAppStatus.of(row) for row in rows}


class Effective(BaseModel):
    """The published template customers get for a slot, and where it comes from."""

    source: str
    language: str
    version: int
    subject: str | None
    body: str


class SlotDetail(BaseModel):
    """One slot for the editor and ``GET /api/templates/{brand}/{event}/{channel}/{language}``:
    its versions (oldest first), what customers get today, and its WhatsApp approval."""

    brand: str
    event: str
    channel: ChannelKind
    language: str
    versions: list[VersionInfo]
    published: int | None
    effective: Effective | None
    whatsapp: WhatsAppStatus | None

    def newest(self) -> VersionInfo | None:
        """The newest version (a draft waiting, or the published one)."""
        return self.versions[-1] if self.versions else None


def slot_detail(*, session: Session, key: TemplateKey) -> SlotDetail:
    """Everything the editor shows about one slot."""
    versions = history(session=session, key=key)
    published = next((v.version for v in versions if v.status is TemplateStatus.PUBLISHED), None)
    whatsapp = None
    if key.channel is ChannelKind.WHATSAPP:
        whatsapp = _whatsapp(session, key.brand).get((key.event, key.language))
    return SlotDetail(
        brand=scope_label(key.brand),
        event=key.event,
        channel=key.channel,
        language=key.language,
        versions=versions,
        published=published,
        effective=effective(session=session, key=key),
        whatsapp=whatsapp,
    )


def effective(*, session: Session, key: TemplateKey) -> Effective | None:
    """The first published template on the slot's fallback chain, if any."""
    brand = scope_brand(session=session, slug=key.brand)
    found = candidates(
        session=session,
        brand=brand,
        event=key.event,
        channel=key.channel,
        language=key.language,
    )
    if not found:
        return None
    first = found[0]
    return Effective(
        source=f"{scope_label(first.brand)}/{first.language} v{first.version.version}",
        language=first.language,
        version=first.version.version,
        subject=first.version.subject,
        body=first.version.body,
    )
