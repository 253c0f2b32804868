"""Validation on save: syntax, unknown variables, sample renders, channel limits, links.

Every problem is an ``Issue`` that names its line and the fix. A template is rendered twice
with sample data, once with every optional value filled and once with them all empty, so an
unguarded optional value (an ETA that may be none) is caught before a customer sees "None".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from jinja2 import nodes
from pydantic import BaseModel

from tidings.config.brands import Brand
from tidings.errors import TemplateRenderError
from tidings.store.enums import ChannelKind
from tidings.templates import limits
from tidings.templates.contract import (
    EVENT_SECTIONS,
    EVENTS,
    LANGUAGES,
    PREVIEW_TIME_ZONES,
    sections_for,
)
from tidings.templates.names import check_names
from tidings.templates.samples import sample_variables
from tidings.templates.sandbox import (
    ENVIRONMENT,
    GuardedTemplate,
    compile_template,
    render_compiled,
)
from tidings.templates.variables import parse_variables, to_context

Field = Literal["subject", "body"]


class Issue(BaseModel):
    """One problem with a template."""

    severity: Literal["error", "warning"] = "error"
    field: Field | None = None
    line: int | None = None
    message: str

    def __str__(self) -> str:
        where = " ".join(
            part for part in (self.field, f"line {self.line}" if self.line else None) if part
        )
        return f"{self.severity}: {where + ': ' if where else ''}{self.message}"


def errors(issues: Iterable[Issue]) -> list[Issue]:
    """The issues that block a save."""
    return [issue for issue in issues if issue.severity == "error"]


def validate_template(
    *,
    event: str,
    channel: ChannelKind,
    language: str,
    body: str,
    subject: str | None = None,
    brand: Brand | None = None,
) -> list[Issue]:
    """Every problem with this template, each with its line and fix; empty when it is fine."""
    issues = _shape_issues(
        event=event, channel=channel, language=language, body=body, subject=subject
    )
    if issues:
        return issues
    sources: dict[Field, str] = {"body": body}
    if channel is ChannelKind.EMAIL and subject is not None:
        sources["subject"] = subject
    compiled: dict[Field, GuardedTemplate] = {}
    for name, source in sources.items():
        issues += _static_issues(name, source)
        try:
            compiled[name] = compile_template(source)
        except TemplateRenderError as exc:
            issues.append(Issue(field=name, line=exc.line, message=_strip_line(str(exc))))
    if errors(issues):
        return _dedupe(issues)
    full = _render_issues(
        compiled, event=event, channel=channel, language=language, brand=brand, sparse=False
    )
    failed = {
        issue.field
        for issue in full
        if issue.line is not None or "sample data" not in issue.message
    }
    rest = {name: template for name, template in compiled.items() if name not in failed}
    sparse = _render_issues(
        rest, event=event, channel=channel, language=language, brand=brand, sparse=True
    )
    return _dedupe(issues + full + sparse)


def _shape_issues(
    *, event: str, channel: ChannelKind, language: str, body: str, subject: str | None
) -> list[Issue]:
    issues = []
    if event not in EVENTS:
        issues.append(Issue(message=f"unknown event {event!r}; events: {', '.join(EVENTS)}"))
    if language not in LANGUAGES:
        issues.append(
            Issue(message=f"unknown language {language!r}; languages: {', '.join(LANGUAGES)}")
        )
    if not body.strip():
        issues.append(Issue(field="body", message="the body is empty: write the message"))
    if channel is ChannelKind.EMAIL and not (subject or "").strip():
        issues.append(Issue(field="subject", message="an email template needs a subject"))
    if channel is not ChannelKind.EMAIL and subject:
        issues.append(
            Issue(
                field="subject",
                message="only email templates have a subject: remove it from this "
                f"{channel} template",
            )
        )
    return issues


def _static_issues(name: Field, source: str) -> list[Issue]:
    try:
        tree = ENVIRONMENT.parse(source)
    except Exception:
        return []
    issues = [Issue(field=name, line=line, message=message) for line, message in check_names(tree)]
    for data in tree.find_all(nodes.TemplateData):
        for offset, message in limits.text_problems(data.data):
            issues.append(Issue(field=name, line=data.lineno + offset - 1, message=message))
    return issues


def _render_issues(
    compiled: dict[Field, GuardedTemplate],
    *,
    event: str,
    channel: ChannelKind,
    language: str,
    brand: Brand | None,
    sparse: bool,
) -> list[Issue]:
    variables = sample_variables(event, language, brand=brand, channel=channel, sparse=sparse)
    context = to_context(parse_variables(variables))
    issues: list[Issue] = []
    rendered: dict[Field, str] = {}
    for name, template in compiled.items():
        try:
            rendered[name] = render_compiled(
                template, context, language=language, time_zone=PREVIEW_TIME_ZONES[language]
            ).strip()
        except TemplateRenderError as exc:
            issues.append(Issue(field=name, line=exc.line, message=_explain(exc, event, sparse)))
    for name, text in rendered.items():
        issues += _limit_issues(name, text, channel)
    return issues


def _limit_issues(name: Field, text: str, channel: ChannelKind) -> list[Issue]:
    problems = [
        Issue(field=name, message=f"with sample data: {message} (line {line} of the message)")
        for line, message in limits.text_problems(text)
    ]
    if name == "subject":
        problem = limits.subject_problem(text)
    elif channel is ChannelKind.SMS:
        problem = limits.sms_problem(text)
    elif channel is ChannelKind.WHATSAPP:
        problem = limits.whatsapp_problem(text)
    else:
        problem = None
    if problem:
        problems.append(Issue(field=name, message=problem))
    return problems


def _explain(exc: TemplateRenderError, event: str, sparse: bool) -> str:
    message = _strip_line(str(exc))
    if exc.name and exc.name not in sections_for(event):
        homes = [name for name, extra in EVENT_SECTIONS.items() if exc.name in extra]
        if homes:
            return (
                f"{exc.name} is not part of {event} messages (they have "
                f"{', '.join(sections_for(event))}); it comes with {', '.join(homes)}"
            )
    if sparse:
        return f"when optional values are empty (no ETA, reason, slot...): {message}"
    return message


def _strip_line(message: str) -> str:
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith("line ") else message


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[tuple[object, ...]] = set()
    unique = []
    for issue in issues:
        key = (issue.severity, issue.field, issue.line, issue.message)
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    return unique
