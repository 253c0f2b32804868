"""Lookups for sending: the fallback chain and the published templates on it."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.store.enums import ChannelKind, TemplateStatus
from tidings.store.models import BrandRow, Template, TemplateVersion
from tidings.templates.contract import FALLBACK_LANGUAGE


class Candidate(NamedTuple):
    """A published version on the fallback chain."""

    brand: str | None
    language: str
    version: TemplateVersion


def fallback_chain(brand: Brand | None, language: str) -> list[tuple[str | None, str]]:
    """brand+language → brand+brand default language → default+language → default+en."""
    chain: list[tuple[str | None, str]] = []
    if brand is not None:
        chain += [(brand.slug, language), (brand.slug, brand.default_language)]
    chain += [(None, language), (None, FALLBACK_LANGUAGE)]
    return list(dict.fromkeys(chain))


def candidates(
    *, session: Session, brand: Brand | None, event: str, channel: ChannelKind, language: str
) -> list[Candidate]:
    """The published versions on the fallback chain, in chain order (one query); ``brand``
    None walks the default copy's chain alone."""
    chain = fallback_chain(brand, language)
    scope: ColumnElement[bool] = Template.brand_id.is_(None)
    if brand is not None:
        scope = (BrandRow.slug == brand.slug) | scope
    rows = session.execute(
        select(BrandRow.slug, Template.language, TemplateVersion)
        .join(TemplateVersion, TemplateVersion.template_id == Template.id)
        .outerjoin(BrandRow, BrandRow.id == Template.brand_id)
        .where(
            Template.event == event,
            Template.channel == channel,
            Template.language.in_({lang for _, lang in chain}),
            scope,
            TemplateVersion.status == TemplateStatus.PUBLISHED,
        )
    ).all()
    found: dict[tuple[str | None, str], TemplateVersion] = {
        (slug, lang): version for slug, lang, version in rows
    }
    return [
        Candidate(scope, lang, found[(scope, lang)])
        for scope, lang in chain
        if (scope, lang) in found
    ]


def published_slots(*, session: Session) -> set[tuple[str | None, str, ChannelKind, str]]:
    """(brand, event, channel, language) of every slot with a published version."""
    rows = session.execute(
        select(BrandRow.slug, Template.event, Template.channel, Template.language)
        .join(TemplateVersion, TemplateVersion.template_id == Template.id)
        .outerjoin(BrandRow, BrandRow.id == Template.brand_id)
        .where(TemplateVersion.status == TemplateStatus.PUBLISHED)
    ).all()
    return {(slug, event, ChannelKind(channel), lang) for slug, event, channel, lang in rows}
