"""The bundled copy: ``bundled/<scope>/<language>.yaml`` read, validated and loaded.

Loading is idempotent: a template whose text was already loaded by ``tidings`` adds nothing. When
the bundled text changes, the new text is published if nobody edited that slot, and saved as a
draft for review if a person did, so an upgrade never overwrites a brand manager's words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final, NamedTuple

import yaml
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tidings.config.brands import Brand, BrandsFile
from tidings.store.brands import sync_brands
from tidings.store.enums import ChannelKind, TemplateStatus
from tidings.store.models import Template, TemplateVersion
from tidings.templates.contract import BUNDLED_AUTHOR, DEFAULT_SCOPE, EVENTS, LANGUAGES
from tidings.templates.store import add_version
from tidings.templates.validate import errors, validate_template

BUNDLED_DIR: Final = Path(__file__).resolve().parent / "bundled"
KEYS: Final = ("whatsapp", "sms", "email_subject", "email_body")


class BundledTemplate(NamedTuple):
    """One template from a bundled file, with where it lives for error messages."""

    scope: str | None  # brand slug; None is the default
    language: str
    event: str
    channel: ChannelKind
    subject: str | None
    body: str
    path: Path
    body_line: int  # file line of the body's first line
    subject_line: int | None

    def where(self, field: str | None = None, line: int | None = None) -> str:
        """``path:line`` of a template line (or of the template)."""
        start = self.subject_line if field == "subject" and self.subject_line else self.body_line
        return f"{self.path}:{start + (line - 1 if line else 0)}"

    def label(self) -> str:
        """``kapas/delayed/sms/hi``."""
        return f"{self.scope or DEFAULT_SCOPE}/{self.event}/{self.channel}/{self.language}"


class BundledProblem(NamedTuple):
    """A problem in a bundled file: where and what."""

    where: str
    message: str


def _first_line(node: yaml.Node) -> int:
    """1-based file line of a scalar's first content line (block scalars start below ``|``)."""
    style = getattr(node, "style", None)
    return node.start_mark.line + (2 if style in ("|", ">") else 1)


def _lines(path: Path, text: str) -> dict[tuple[str, str], int]:
    root = yaml.compose(text)
    lines: dict[tuple[str, str], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for event_node, messages in root.value:
        if isinstance(messages, yaml.MappingNode):
            for key_node, value_node in messages.value:
                lines[(str(event_node.value), str(key_node.value))] = _first_line(value_node)
    return lines


def read_file(
    path: Path, scope: str | None, language: str
) -> tuple[list[BundledTemplate], list[BundledProblem]]:
    """The templates of one bundled file and the problems with its shape."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        lines = _lines(path, text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [], [BundledProblem(str(path), f"cannot read: {exc}")]
    if not isinstance(data, dict):
        return [], [BundledProblem(str(path), "must map each event to its four texts")]
    templates, problems = [], []
    for event, messages in data.items():
        where = f"{path}:{lines.get((str(event), KEYS[0]), 1)}"
        if event not in EVENTS:
            problems.append(
                BundledProblem(where, f"unknown event {event!r}; events: {', '.join(EVENTS)}")
            )
            continue
        if not isinstance(messages, dict) or any(
            not isinstance(messages.get(k), str) for k in KEYS
        ):
            problems.append(BundledProblem(where, f"{event} needs four texts: {', '.join(KEYS)}"))
            continue
        extra = sorted(set(messages) - set(KEYS))
        if extra:
            problems.append(
                BundledProblem(where, f"{event} has unknown keys {extra}; use {', '.join(KEYS)}")
            )
        for channel, body_key, subject_key in (
            (ChannelKind.WHATSAPP, "whatsapp", None),
            (ChannelKind.SMS, "sms", None),
            (ChannelKind.EMAIL, "email_body", "email_subject"),
        ):
            templates.append(
                BundledTemplate(
                    scope=scope,
                    language=language,
                    event=event,
                    channel=channel,
                    subject=messages[subject_key] if subject_key else None,
                    body=messages[body_key],
                    path=path,
                    body_line=lines.get((event, body_key), 1),
                    subject_line=lines.get((event, subject_key)) if subject_key else None,
                )
            )
    return templates, problems


def read_bundled(
    directory: Path = BUNDLED_DIR,
) -> tuple[list[BundledTemplate], list[BundledProblem]]:
    """Every bundled template under ``directory``, and the problems with the files."""
    templates: list[BundledTemplate] = []
    problems: list[BundledProblem] = []
    for path in sorted(directory.glob("*/*.yaml")):
        scope = None if path.parent.name == DEFAULT_SCOPE else path.parent.name
        if path.stem not in LANGUAGES:
            problems.append(
                BundledProblem(str(path), f"file names are languages: {', '.join(LANGUAGES)}")
            )
            continue
        found, trouble = read_file(path, scope, path.stem)
        templates += found
        problems += trouble
    return templates, problems


def validate_bundled(template: BundledTemplate, brand: Brand | None) -> list[BundledProblem]:
    """The blocking problems of one bundled template, located in its file."""
    issues = validate_template(
        event=template.event,
        channel=template.channel,
        language=template.language,
        body=template.body,
        subject=template.subject,
        brand=brand,
    )
    return [
        BundledProblem(
            template.where(issue.field, issue.line), f"{template.label()}: {issue.message}"
        )
        for issue in errors(issues)
    ]


class LoadReport(BaseModel):
    """What ``load_bundled`` did."""

    added: int = 0
    updated: int = 0
    drafted: int = 0
    unchanged: int = 0
    skipped_scopes: list[str] = []
    invalid: list[str] = []

    def counts(self) -> dict[str, int]:
        """The figures, for ``--json``."""
        return {
            "added": self.added,
            "updated": self.updated,
            "drafted": self.drafted,
            "unchanged": self.unchanged,
            "invalid": len(self.invalid),
        }


def _valid_templates(
    brands: BrandsFile, directory: Path, report: LoadReport
) -> Iterator[BundledTemplate]:
    by_slug = {brand.slug: brand for brand in brands.brands}
    templates, problems = read_bundled(directory)
    report.invalid += [f"{problem.where}: {problem.message}" for problem in problems]
    skipped = set()
    for template in templates:
        if template.scope is not None and template.scope not in by_slug:
            skipped.add(template.scope)
            continue
        trouble = validate_bundled(template, by_slug.get(template.scope or ""))
        if trouble:
            report.invalid += [f"{problem.where}: {problem.message}" for problem in trouble]
            continue
        yield template
    report.skipped_scopes = sorted(skipped)


def load_bundled(
    *, session: Session, brands: BrandsFile, directory: Path = BUNDLED_DIR
) -> LoadReport:
    """Load the bundled copy as published versions authored by ``tidings`` (idempotent)."""
    report = LoadReport()
    rows = sync_brands(session=session, brands=brands)
    slots = {
        (slot.brand_id, slot.event, slot.channel, slot.language): slot
        for slot in session.scalars(select(Template).options(selectinload(Template.versions)))
    }
    for template in _valid_templates(brands, directory, report):
        brand_id = rows[template.scope].id if template.scope else None
        key = (brand_id, template.event, template.channel, template.language)
        slot = slots.get(key)
        if slot is None:
            slot = Template(
                brand_id=brand_id,
                event=template.event,
                channel=template.channel,
                language=template.language,
            )
            session.add(slot)
            session.flush()
            slots[key] = slot
        _load_one(session, slot, template, report)
    return report


def _load_one(
    session: Session, slot: Template, template: BundledTemplate, report: LoadReport
) -> None:
    versions: list[TemplateVersion] = list(slot.versions)
    if any(
        v.author == BUNDLED_AUTHOR and v.body == template.body and v.subject == template.subject
        for v in versions
    ):
        report.unchanged += 1
        return
    current = next((v for v in versions if v.status is TemplateStatus.PUBLISHED), None)
    edited = current is not None and current.author != BUNDLED_AUTHOR
    add_version(
        session=session,
        slot=slot,
        body=template.body,
        subject=template.subject,
        author=BUNDLED_AUTHOR,
        note="bundled copy changed: review and publish" if edited else "bundled copy",
        status=TemplateStatus.DRAFT if edited else TemplateStatus.PUBLISHED,
    )
    if edited:
        report.drafted += 1
    elif versions:
        report.updated += 1
    else:
        report.added += 1
