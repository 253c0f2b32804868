"""The WhatsApp template registry: each template's Twilio Content SID and approval status.

Outside the customer's 24-hour window WhatsApp only carries templates Meta approved. A template
here is defined in Twilio's form (``Hi {{1}}, order {{2}} ...``) with the dotted path of the
notification variable behind each placeholder; ``sync_templates`` creates the content in Twilio,
submits it for approval and reads the approval status back (Content API:
``GET /v1/ContentAndApprovals``, ``POST /v1/Content``,
``POST /v1/Content/{sid}/ApprovalRequests/whatsapp``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.rest.content.v1.content import ContentList
from twilio.rest.content.v1.content.approval_create import ApprovalCreateList

from tidings.channels.provider_errors import twilio_call
from tidings.domain import from_minor
from tidings.errors import ConfigError
from tidings.store.base import utcnow
from tidings.store.models import BrandRow, WhatsAppApproval, WhatsAppTemplate
from tidings.templates.house import date_text, datetime_text, money_text

_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# Sample values Meta's reviewers see for common variables.
_SAMPLES = {
    "customer.first_name": "Asha",
    "customer.name": "Asha Rao",
    "order.number": "KAP-100001",
    "shipment.carrier_name": "Delhivery",
    "shipment.tracking_number": "1234567890",
    "shipment.tracking_url": "https://track.example/1234567890",
    "brand.name": "Kapas & Co.",
}


class TemplateDefinition(BaseModel):
    """A WhatsApp template as an operator defines it (``whatsapp-sync --definitions FILE``)."""

    brand: str
    event: str
    language: str = Field(pattern=r"^[a-z]{2}$")
    body: str = Field(min_length=1, max_length=1024)
    variables: list[str] = Field(default_factory=list, description="path behind {{1}}, {{2}}...")
    category: str = "UTILITY"


def friendly_name(brand: str, event: str, language: str) -> str:
    """The name a template has in Twilio: stable, so a sync finds what it created before."""
    return f"tidings_{brand}_{event}_{language}"


def define_template(*, session: Session, definition: TemplateDefinition) -> WhatsAppTemplate:
    """Add or update a template, in the caller's transaction. A changed body needs new content
    in Twilio (approved content cannot be edited), so it forgets the old SID and status."""
    brand = session.scalar(select(BrandRow).where(BrandRow.slug == definition.brand))
    if brand is None:
        raise ConfigError(f"unknown brand {definition.brand!r}: fix the slug or the brands file")
    _check_placeholders(definition)
    row = session.scalar(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.brand_id == brand.id,
            WhatsAppTemplate.event == definition.event,
            WhatsAppTemplate.language == definition.language,
        )
    )
    if row is None:
        row = WhatsAppTemplate(
            brand_id=brand.id,
            event=definition.event,
            language=definition.language,
            friendly_name=friendly_name(definition.brand, definition.event, definition.language),
        )
        session.add(row)
    if row.body != definition.body or row.variables != definition.variables:
        row.content_sid = None
        row.approval_status = WhatsAppApproval.UNSUBMITTED
        row.rejection_reason = None
    row.body, row.variables, row.category = (
        definition.body,
        definition.variables,
        definition.category,
    )
    session.flush()
    return row


def _check_placeholders(definition: TemplateDefinition) -> None:
    numbers = sorted({int(n) for n in _PLACEHOLDER.findall(definition.body)})
    if numbers != list(range(1, len(definition.variables) + 1)):
        raise ConfigError(
            f"{definition.brand}/{definition.event}/{definition.language}: the body's placeholders "
            f"{numbers} must be {{{{1}}}}..{{{{{len(definition.variables)}}}}}, one per variable"
        )


def approved_template(
    session: Session,
    *,
    brand_slug: str,
    event: str,
    languages: Sequence[str],
    category: str | None = None,
) -> WhatsAppTemplate | None:
    """The approved template for a brand's event, in the first language that has one; of
    ``category`` only when given (a business-initiated notice needs a UTILITY template)."""
    query = (
        select(WhatsAppTemplate)
        .join(BrandRow, BrandRow.id == WhatsAppTemplate.brand_id)
        .where(
            BrandRow.slug == brand_slug,
            WhatsAppTemplate.event == event,
            WhatsAppTemplate.language.in_(list(languages)),
            WhatsAppTemplate.approval_status == WhatsAppApproval.APPROVED,
            WhatsAppTemplate.content_sid.is_not(None),
        )
    )
    if category is not None:
        query = query.where(WhatsAppTemplate.category == category)
    rows = session.scalars(query).all()
    by_language = {row.language: row for row in rows}
    return next((by_language[lang] for lang in languages if lang in by_language), None)


def content_variables(
    template: WhatsAppTemplate, variables: dict[str, Any], *, language: str, time_zone: str
) -> dict[str, str]:
    """``{"1": ..., "2": ...}`` for Twilio's ContentVariables, formatted for the customer."""
    return {
        str(i): format_value(_lookup(variables, path), language=language, time_zone=time_zone)
        for i, path in enumerate(template.variables, start=1)
    }


def fill(body: str, values: dict[str, str]) -> str:
    """The text the customer sees: the body with its placeholders filled."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def _lookup(variables: dict[str, Any], path: str) -> Any:
    value: Any = variables
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def format_value(value: Any, *, language: str, time_zone: str) -> str:
    """A variable as text: dates and money as the templates print them, lists joined."""
    if value is None or value == "":
        return "-"  # WhatsApp refuses empty template variables
    if isinstance(value, dict) and "currency" in value:
        return _money(value, language)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v, language=language, time_zone=time_zone) for v in value)
    if isinstance(value, str):
        return _format_date_text(value, language=language, time_zone=time_zone)
    return str(value)


def _money(value: dict[str, Any], language: str) -> str:
    """``{"amount": "1499.00"}`` or ``{"minor": 149900}``, printed as the templates print money."""
    currency = str(value["currency"])
    minor = value.get("minor")
    if minor is None:
        amount = Decimal(str(value.get("amount", 0)))
    else:
        amount = from_minor(int(minor), currency)
    return money_text(amount, currency, language)


def _format_date_text(value: str, *, language: str, time_zone: str) -> str:
    """ISO dates and datetimes (as the outbox stores them) read as dates; other text as is."""
    try:
        if len(value) == 10:
            return date_text(dt.date.fromisoformat(value), "medium", language)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return datetime_text(moment, "medium", language, _zone(time_zone))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# -- sync with Twilio's Content API -------------------------------------------------------------


@dataclass
class SyncReport:
    """What one sync did."""

    created: int = 0
    adopted: int = 0
    submitted: int = 0
    statuses: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "created": self.created,
            "adopted": self.adopted,
            "submitted": self.submitted,
            "statuses": self.statuses or {},
        }


def sync_templates(*, session: Session, client: Any, submit: bool = False) -> SyncReport:
    """Create missing content, optionally submit it for approval, and read every template's
    approval status back from Twilio. Runs in the caller's transaction."""
    report = SyncReport()
    remote = twilio_call(lambda: list(client.content.v1.content_and_approvals.list()))
    by_sid = {item.sid: item for item in remote if item.sid}
    by_name = {item.friendly_name: item for item in remote if item.friendly_name}
    now = utcnow()
    for row in session.scalars(select(WhatsAppTemplate).order_by(WhatsAppTemplate.id)):
        if row.content_sid is None:
            match = by_name.get(row.friendly_name)
            if match is not None and _text_body(match) == row.body:
                row.content_sid = match.sid
                report.adopted += 1
            else:
                row.content_sid = _create_content(client, row)
                by_sid.pop(row.content_sid, None)  # whatever was listed is not this new content
                report.created += 1
        item = by_sid.get(row.content_sid)
        if item is not None:
            row.approval_status, row.rejection_reason = approval_of(item.approval_requests)
        if submit and row.approval_status is WhatsAppApproval.UNSUBMITTED:
            row.approval_status = _submit(client, row)
            report.submitted += 1
        row.synced_at = now
    session.flush()
    counts: dict[str, int] = {}
    for status in session.scalars(select(WhatsAppTemplate.approval_status)):
        counts[status.value] = counts.get(status.value, 0) + 1
    report.statuses = counts
    return report


def _create_content(client: Any, row: WhatsAppTemplate) -> str:
    samples = {str(i): _SAMPLES.get(p, p) for i, p in enumerate(row.variables, start=1)}
    request = ContentList.ContentCreateRequest(
        {
            "friendly_name": row.friendly_name,
            "language": row.language,
            "variables": samples,
            "types": {"twilio/text": {"body": row.body}},
        }
    )
    created = twilio_call(lambda: client.content.v1.contents.create(request))
    return str(created.sid)


def _submit(client: Any, row: WhatsAppTemplate) -> WhatsAppApproval:
    request = ApprovalCreateList.ContentApprovalRequest(
        {"name": row.friendly_name, "category": row.category}
    )
    answer = twilio_call(
        lambda: client.content.v1.contents(row.content_sid).approval_create.create(request)
    )
    status, _ = approval_of({"status": getattr(answer, "status", None)})
    # Twilio took the request (201): it is at least received, whatever the answer's status says.
    unclear = (WhatsAppApproval.UNKNOWN, WhatsAppApproval.UNSUBMITTED)
    return WhatsAppApproval.RECEIVED if status in unclear else status


def approval_of(approval_requests: Any) -> tuple[WhatsAppApproval, str | None]:
    """Status and rejection reason from a Content API ``approval_requests`` object (flat, or
    nested under ``whatsapp`` as the per-content endpoint returns it)."""
    if not isinstance(approval_requests, dict):
        return WhatsAppApproval.UNSUBMITTED, None
    nested = approval_requests.get("whatsapp")
    data: dict[str, Any] = nested if isinstance(nested, dict) else approval_requests
    raw = str(data.get("status") or "").lower()
    if not raw:
        return WhatsAppApproval.UNSUBMITTED, None
    try:
        status = WhatsAppApproval(raw)
    except ValueError:
        status = WhatsAppApproval.UNKNOWN
    reason = data.get("rejection_reason") or None
    return status, str(reason) if reason else None


def _text_body(item: Any) -> str | None:
    types = item.types if isinstance(item.types, dict) else {}
    text = types.get("twilio/text")
    return str(text.get("body")) if isinstance(text, dict) and text.get("body") else None


def load_definitions(documents: Iterable[dict[str, Any]]) -> list[TemplateDefinition]:
    """Validate definitions read from a YAML file's ``templates`` list."""
    return [TemplateDefinition.model_validate(doc) for doc in documents]
