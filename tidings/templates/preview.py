"""Previews for the editor: a template source rendered on a sample order, with its issues.

The preview renders exactly what ``render_message`` would (the same sandbox, the slot's
language and a time zone for it) and lists the same issues a save would refuse or warn about
(``store.check``), so what the editor shows is what publishing accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.errors import TemplateError
from tidings.store.enums import ChannelKind
from tidings.templates import limits
from tidings.templates.contract import (
    EMAIL_SUBJECT_MAX_CHARS,
    LANGUAGES,
    PREVIEW_TIME_ZONES,
    WHATSAPP_MAX_CHARS,
    sections_for,
)
from tidings.templates.names import Kind, contract_root
from tidings.templates.render import render_source
from tidings.templates.samples import sample_variables
from tidings.templates.store import TemplateKey, check, scope_brand
from tidings.templates.validate import Issue


class Size(BaseModel):
    """How long the rendered message is against its channel's limit."""

    chars: int
    limit: int | None
    sms_segments: int | None = None
    sms_encoding: str | None = None
    sms_forced_by: str | None = None


class Preview(BaseModel):
    """A source rendered on a sample order; ``error`` says why a part did not render."""

    sample_language: str
    sparse: bool
    subject: str | None
    text: str | None
    error: str | None
    size: Size | None
    issues: list[Issue]


def preview(
    *,
    session: Session,
    key: TemplateKey,
    body: str,
    subject: str | None = None,
    sample_language: str | None = None,
    sparse: bool = False,
) -> Preview:
    """Render ``body`` (and an email's ``subject``) for ``key`` on the sample order of
    ``sample_language`` (default: the slot's), with every issue a save would report."""
    is_email = key.channel is ChannelKind.EMAIL
    issues = check(session=session, key=key, body=body, subject=subject if is_email else None)
    sample = render_sample(
        session=session,
        key=key,
        body=body,
        subject=subject,
        sample_language=sample_language,
        sparse=sparse,
    )
    return sample.model_copy(update={"issues": issues})


def render_sample(
    *,
    session: Session,
    key: TemplateKey,
    body: str,
    subject: str | None = None,
    sample_language: str | None = None,
    sparse: bool = False,
) -> Preview:
    """The render alone, without validation (for side-by-side views of published text)."""
    sample = sample_language or key.language
    if sample not in LANGUAGES:
        raise TemplateError(f"unknown sample language {sample!r}; use one of {LANGUAGES}")
    brand = scope_brand(session=session, slug=key.brand)
    variables = sample_variables(key.event, sample, brand=brand, channel=key.channel, sparse=sparse)
    rendered_subject = text = error = None
    try:
        if key.channel is ChannelKind.EMAIL:
            rendered_subject = " ".join(_render(subject or "", key, variables).split())
        text = _render(body, key, variables)
    except TemplateError as exc:
        error = str(exc)
    return Preview(
        sample_language=sample,
        sparse=sparse,
        subject=rendered_subject,
        text=text,
        error=error,
        size=_size(key.channel, text, rendered_subject),
        issues=[],
    )


def _render(source: str, key: TemplateKey, variables: dict[str, Any]) -> str:
    return render_source(
        source,
        language=key.language,
        time_zone=PREVIEW_TIME_ZONES[key.language],
        variables=variables,
    )


def _size(channel: ChannelKind, text: str | None, subject: str | None) -> Size | None:
    if channel is ChannelKind.EMAIL:
        return None if subject is None else Size(chars=len(subject), limit=EMAIL_SUBJECT_MAX_CHARS)
    if text is None:
        return None
    if channel is ChannelKind.WHATSAPP:
        return Size(chars=len(text), limit=WHATSAPP_MAX_CHARS)
    sms = limits.sms_size(text)
    return Size(
        chars=len(text),
        limit=None,
        sms_segments=sms.segments,
        sms_encoding=sms.encoding,
        sms_forced_by=sms.first_unicode,
    )


class VariableHint(BaseModel):
    """A variable a template of this event may print, how to print it, and a sample value."""

    name: str
    kind: str
    usage: str
    sample: str | None


_USAGE = {
    "money": "{{ %s | money }}",
    "date": "{{ %s | date }}",
    "datetime": "{{ %s | datetime }}",
    "list": "{%% for item in %s %%}...{%% endfor %%}",
}


def variable_hints(
    event: str, language: str, *, brand: Brand | None, channel: ChannelKind
) -> list[VariableHint]:
    """Every variable an ``event`` message on ``channel`` has, with its sample value in
    ``language``."""
    root = contract_root()
    sample = sample_variables(event, language, brand=brand, channel=channel)
    hints: list[VariableHint] = []
    for section in sections_for(event):
        _walk(root.fields[section], sample.get(section), hints)
    # links.unsubscribe exists only in email: the contract has it, the channel's data does not
    return [hint for hint in hints if hint.sample is not None or hint.name != "links.unsubscribe"]


def _walk(kind: Kind, value: Any, hints: list[VariableHint]) -> None:
    if kind.label == "group":
        for name, sub in kind.fields.items():
            _walk(sub, value.get(name) if isinstance(value, dict) else None, hints)
        return
    usage = _USAGE.get(kind.label, "{{ %s }}") % kind.path
    hints.append(
        VariableHint(name=kind.path, kind=kind.label, usage=usage, sample=_sample_text(value))
    )


def _sample_text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, dict) and {"amount", "currency"} <= set(value):
        return f"{value['amount']} {value['currency']}"
    if isinstance(value, list):
        names = [item.get("name", "") if isinstance(item, dict) else str(item) for item in value]
        return ", ".join(names)
    return str(value)
