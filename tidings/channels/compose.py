"""Compose the message a provider sends: render it, address it, and sign it as the brand."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from tidings.channels.base import OutboundMessage
from tidings.channels.consent import unsubscribe_token
from tidings.channels.policy import Send
from tidings.channels.render import Renderer
from tidings.channels.whatsapp import content_variables, fill
from tidings.config.brands import Brand
from tidings.store.enums import ChannelKind
from tidings.store.models import Customer, Notification


@dataclass(frozen=True)
class Links:
    """Public URLs that go into messages: unsubscribe links and Twilio's status callback.

    ``public_url`` is where customers and providers reach the web app; without it messages
    carry no unsubscribe link and Twilio is not asked to call back (the demo).
    """

    public_url: str | None = None
    twilio_status_url: str | None = None

    def unsubscribe(self, *, session: Session, customer_id: int, kind: ChannelKind) -> str | None:
        """The one-click unsubscribe URL for a customer and channel; its token is made in the
        caller's transaction the first time."""
        if not self.public_url:
            return None
        token = unsubscribe_token(session=session, customer_id=customer_id, channel=kind)
        return f"{self.public_url.rstrip('/')}/unsubscribe/{token}"

    def status_callback(self, notification_id: int) -> str | None:
        """Twilio's StatusCallback, naming the notification so a report can find it even when
        the send's own commit was lost."""
        base = self.twilio_status_url or (
            f"{self.public_url.rstrip('/')}/webhooks/twilio/status" if self.public_url else None
        )
        if base is None:
            return None
        joiner = "&" if "?" in base else "?"
        return f"{base}{joiner}{urlencode({'notification': notification_id})}"


def message_id(key: str, notification_id: int, sender: str) -> str:
    """A Message-ID that is the same on every attempt of one notification."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    domain = sender.rpartition("@")[2] or "tidings.local"
    return f"<{digest}.{notification_id}@{domain}>"


def sender_of(brand: Brand, kind: ChannelKind) -> tuple[str, str | None]:
    """The brand's From for a channel: (address, display name)."""
    if kind is ChannelKind.EMAIL:
        return brand.senders.email.address, brand.senders.email.name
    return str(getattr(brand.senders, kind.value) or ""), None


def compose(
    *,
    session: Session,
    renderer: Renderer,
    links: Links,
    brand: Brand,
    row: Notification,
    customer: Customer | None,
    decision: Send,
) -> OutboundMessage:
    """Render ``row`` for the decided channel, store what was rendered on the row, and return
    the message to send."""
    kind = decision.kind
    time_zone = customer.time_zone if customer else "UTC"
    unsubscribe = None
    if customer is not None and kind is ChannelKind.EMAIL:  # only emails carry the link
        unsubscribe = links.unsubscribe(session=session, customer_id=customer.id, kind=kind)
    content_sid, values = None, {}
    html = None
    if decision.template is not None:
        template = decision.template
        values = content_variables(
            template, row.variables, language=template.language, time_zone=time_zone
        )
        subject, text, version = None, fill(template.body, values), None
        content_sid = template.content_sid
    else:
        rendered = renderer(
            session=session,
            brand=brand,
            event=row.event,
            channel=kind,
            language=row.language,
            time_zone=time_zone,
            variables=_with_links(row.variables, kind, unsubscribe),
        )
        subject, text, html = rendered.subject, rendered.text, rendered.html
        version = rendered.template_version_id
    row.channel, row.recipient = kind, decision.recipient
    row.subject, row.body, row.template_version_id = subject, text, version
    return message_from_row(
        row,
        brand,
        links=links,
        html=html,
        content_sid=content_sid,
        content_values=values,
        unsubscribe=unsubscribe,
    )


def message_from_row(
    row: Notification,
    brand: Brand,
    *,
    links: Links,
    html: str | None = None,
    content_sid: str | None = None,
    content_values: dict[str, str] | None = None,
    unsubscribe: str | None = None,
) -> OutboundMessage:
    """The message for a row as stored: what a crash-interrupted send repeats."""
    sender, sender_name = sender_of(brand, row.channel)
    is_email = row.channel is ChannelKind.EMAIL
    return OutboundMessage(
        notification_id=row.id,
        idempotency_key=row.idempotency_key,
        kind=row.channel,
        brand=brand.slug,
        sender=sender,
        sender_name=sender_name,
        recipient=row.recipient,
        subject=row.subject,
        text=row.body or "",
        html=html,
        content_sid=content_sid,
        content_variables=content_values or {},
        message_id=message_id(row.idempotency_key, row.id, sender) if is_email else None,
        unsubscribe_url=unsubscribe if is_email else None,
        status_callback=None if is_email else links.status_callback(row.id),
    )


def _with_links(
    variables: dict[str, Any], kind: ChannelKind, unsubscribe: str | None
) -> dict[str, Any]:
    if kind is not ChannelKind.EMAIL or unsubscribe is None:
        return variables
    merged = dict(variables)
    merged["links"] = {**(variables.get("links") or {}), "unsubscribe": unsubscribe}
    return merged
