"""``tidings templates check``: what is missing and what is invalid.

A (brand, event, channel, language) combination is missing only when no template on its
fallback chain exists; a brand's language that falls back to another language is reported as
untranslated (a warning), since those customers get words they may not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.config.brands import Brand, BrandsFile
from tidings.store.enums import ChannelKind, TemplateStatus
from tidings.store.models import BrandRow, Template, TemplateVersion
from tidings.templates.bundled import BUNDLED_DIR, read_bundled, validate_bundled
from tidings.templates.contract import CHANNELS, DEFAULT_SCOPE, EVENTS
from tidings.templates.lookup import fallback_chain
from tidings.templates.validate import errors, validate_template

Slot = tuple[str | None, str, ChannelKind, str]  # (brand slug or None, event, channel, language)


class Combination(NamedTuple):
    """A (brand, event, channel, language) a customer could need a message for."""

    brand: str
    event: str
    channel: ChannelKind
    language: str

    def label(self) -> str:
        """``kapas/delayed/sms/hi``."""
        return f"{self.brand}/{self.event}/{self.channel}/{self.language}"


class CheckReport(BaseModel):
    """Missing combinations, invalid templates (with their problems) and untranslated ones."""

    missing: list[str] = []
    invalid: dict[str, list[str]] = {}
    untranslated: list[str] = []

    def counts(self) -> dict[str, int]:
        """``{"missing": n, "invalid": n}``: the line ``--json`` ends with."""
        return {"missing": len(self.missing), "invalid": len(self.invalid)}


def combinations(brands: BrandsFile) -> Iterable[tuple[Brand, Combination]]:
    """Every combination the brands need: their languages x all events x all channels."""
    for brand in brands.brands:
        for language in brand.languages:
            for event in EVENTS:
                for channel in CHANNELS:
                    yield brand, Combination(brand.slug, event, channel, language)


def coverage(brands: BrandsFile, slots: set[Slot]) -> tuple[list[str], list[str]]:
    """(missing, untranslated) combinations given the slots that have a template."""
    missing, untranslated = [], []
    for brand, combo in combinations(brands):
        chain = [
            (scope, lang)
            for scope, lang in fallback_chain(brand, combo.language)
            if (scope, combo.event, combo.channel, lang) in slots
        ]
        if not chain:
            missing.append(combo.label())
        elif chain[0][1] != combo.language:
            untranslated.append(
                f"{combo.label()}: {combo.language} speakers get "
                f"{chain[0][0] or DEFAULT_SCOPE}/{chain[0][1]}"
            )
    return missing, untranslated


def check_database(*, session: Session, brands: BrandsFile) -> CheckReport:
    """Check the published templates in the database against the brands."""
    by_slug = {brand.slug: brand for brand in brands.brands}
    rows = session.execute(
        select(BrandRow.slug, Template.event, Template.channel, Template.language, TemplateVersion)
        .join(TemplateVersion, TemplateVersion.template_id == Template.id)
        .outerjoin(BrandRow, BrandRow.id == Template.brand_id)
        .where(TemplateVersion.status == TemplateStatus.PUBLISHED)
    ).all()
    slots: set[Slot] = set()
    report = CheckReport()
    for slug, event, channel, language, version in rows:
        slots.add((slug, event, ChannelKind(channel), language))
        issues = validate_template(
            event=event,
            channel=ChannelKind(channel),
            language=language,
            body=version.body,
            subject=version.subject,
            brand=by_slug.get(slug or ""),
        )
        problems = [str(issue) for issue in errors(issues)]
        if problems:
            label = f"{slug or DEFAULT_SCOPE}/{event}/{channel}/{language} v{version.version}"
            report.invalid[label] = problems
    report.missing, report.untranslated = coverage(brands, slots)
    return report


def check_bundled(*, brands: BrandsFile, directory: Path = BUNDLED_DIR) -> CheckReport:
    """Check the bundled YAML files as if they were loaded (no database needed)."""
    by_slug = {brand.slug: brand for brand in brands.brands}
    templates, problems = read_bundled(directory)
    report = CheckReport()
    for problem in problems:
        report.invalid.setdefault(problem.where, []).append(problem.message)
    slots: set[Slot] = set()
    for template in templates:
        trouble = validate_bundled(template, by_slug.get(template.scope or ""))
        if trouble:
            report.invalid[template.label()] = [f"{p.where}: {p.message}" for p in trouble]
        else:
            slots.add((template.scope, template.event, template.channel, template.language))
    report.missing, report.untranslated = coverage(brands, slots)
    return report
