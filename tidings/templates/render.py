"""The renderer other code calls: one message, in the customer's language and the brand's voice.

``render_message`` walks the fallback chain (brand+language → brand+default language →
default+language → default+en) and renders the first published template that renders; a
template that fails (a variable the caller did not pass) is logged and the next one is tried.
``render_source`` renders any source in the same sandbox, for previews.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.errors import TemplateError
from tidings.logs import get_logger
from tidings.store.enums import ChannelKind
from tidings.templates.contract import EVENTS, FALLBACK_LANGUAGE
from tidings.templates.html import email_html
from tidings.templates.lookup import Candidate, candidates
from tidings.templates.samples import sample_variables
from tidings.templates.sandbox import render_text
from tidings.templates.variables import TemplateVariables, parse_variables, to_context

__all__ = ["RenderedMessage", "render_message", "render_source", "sample_variables"]

log = get_logger(__name__)


class RenderedMessage(BaseModel):
    """One rendered message: what a channel sends."""

    subject: str | None
    text: str
    html: str | None
    template_version_id: int | None
    language: str


def render_source(source: str, *, language: str, time_zone: str, variables: dict[str, Any]) -> str:
    """Render any template source in the sandbox; raises ``TemplateError`` when refused."""
    context = to_context(parse_variables(variables))
    return _nonempty(render_text(source, context, language=language, time_zone=time_zone))


def _nonempty(text: str) -> str:
    text = text.strip()
    if not text:
        raise TemplateError("the template rendered to empty text: a message needs words")
    return text


def render_message(
    *,
    session: Session,
    brand: Brand,
    event: str,
    channel: ChannelKind,
    language: str,
    time_zone: str,
    variables: dict[str, Any],
) -> RenderedMessage:
    """Render ``event`` for ``channel`` through the fallback chain; ``TemplateError`` when
    nothing renders."""
    if event not in EVENTS:
        raise TemplateError(f"unknown event {event!r}; events: {', '.join(EVENTS)}")
    channel = ChannelKind(channel)
    parsed = parse_variables(variables, brand=brand)
    context = to_context(parsed)
    chain = candidates(
        session=session, brand=brand, event=event, channel=channel, language=language
    )
    failures = []
    for candidate in chain:
        try:
            return _render(
                candidate, context, parsed, brand=brand, channel=channel, time_zone=time_zone
            )
        except TemplateError as exc:
            where = (
                f"{candidate.brand or '_default'}/{candidate.language} v{candidate.version.version}"
            )
            log.warning(
                "template_render_failed",
                template=where,
                message_event=event,
                channel=str(channel),
                error=str(exc),
            )
            failures.append(f"{where}: {exc}")
    if not failures:
        raise TemplateError(
            f"no published {event} {channel} template for brand {brand.slug} in {language}, "
            f"{brand.default_language} or {FALLBACK_LANGUAGE}: run `tidings templates load` or "
            "publish one"
        )
    raise TemplateError(f"no {event} {channel} template rendered: " + "; ".join(failures))


def _render(
    candidate: Candidate,
    context: dict[str, Any],
    variables: TemplateVariables,
    *,
    brand: Brand,
    channel: ChannelKind,
    time_zone: str,
) -> RenderedMessage:
    version, language = candidate.version, candidate.language
    text = _nonempty(render_text(version.body, context, language=language, time_zone=time_zone))
    subject = html = None
    if channel is ChannelKind.EMAIL:
        if not version.subject:
            raise TemplateError("the email template has no subject")
        subject = " ".join(
            render_text(version.subject, context, language=language, time_zone=time_zone).split()
        )
        html = email_html(
            text=text,
            subject=subject,
            brand=brand,
            language=language,
            unsubscribe=variables.links.unsubscribe,
        )
    return RenderedMessage(
        subject=subject, text=text, html=html, template_version_id=version.id, language=language
    )
