"""Shared pieces for the channel and outbox tests: a fake renderer, customers, dispatchers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from tests.http import loopback_client
from tidings.channels.base import Channel
from tidings.channels.dispatch import Dispatcher
from tidings.channels.outbox import enqueue
from tidings.channels.outbox_file import FileOutboxChannel
from tidings.config import BrandsFile
from tidings.config.brands import Brand
from tidings.errors import TemplateError
from tidings.store.db import SessionFactory
from tidings.store.enums import ChannelKind
from tidings.store.lease import RetryPolicy
from tidings.store.models import BrandRow, Customer, CustomerConsent, Notification, Order
from tidings.templates.render import RenderedMessage

FAST_RETRY = RetryPolicy(max_attempts=4, base_seconds=0.0, cap_seconds=0.0)
TOKEN = "twilio-test-token"  # the Twilio auth token webhook tests sign with
SECRET = "x" * 40  # the web app's secret key in webhook tests


def twilio_post(
    base: str, path: str, params: dict[str, str], *, token: str = TOKEN
) -> httpx.Response:
    """POST a form as Twilio does, signed with ``token``."""
    url = base + path
    signature = RequestValidator(token).compute_signature(url, params)
    with loopback_client(base) as client:
        return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


@dataclass
class FakeRenderer:
    """Renders ``<event> for <first name>, order <number>`` and records every call."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def __call__(
        self,
        *,
        session: Session,
        brand: Brand,
        event: str,
        channel: ChannelKind,
        language: str,
        time_zone: str,
        variables: dict[str, Any],
    ) -> RenderedMessage:
        """Render from the variables; refuse events in ``refuse``."""
        self.calls.append(
            {
                "event": event,
                "channel": channel,
                "language": language,
                "time_zone": time_zone,
                "variables": variables,
            }
        )
        if event in self.refuse:
            raise TemplateError(f"no template for {event}")
        name = variables.get("customer", {}).get("first_name", "there")
        number = variables.get("order", {}).get("number", "-")
        text = f"{event} for {name}, order {number} ({language}) - {brand.voice.sign_off}"
        if channel is ChannelKind.EMAIL:
            unsubscribe = variables.get("links", {}).get("unsubscribe", "")
            return RenderedMessage(
                subject=f"{brand.name}: {event}",
                text=text,
                html=f"<p>{text}</p>{unsubscribe}",
                template_version_id=None,
                language=language,
            )
        return RenderedMessage(
            subject=None, text=text, html=None, template_version_id=None, language=language
        )


def add_customer(
    session: Session,
    brand: BrandRow,
    *,
    email: str = "asha.rao@example.in",
    phone: str = "+919800000001",
    channels: tuple[str, ...] = ("whatsapp", "email"),
    opted_in: Mapping[str, bool] | None = None,
    time_zone: str = "Asia/Kolkata",
    language: str = "en",
    last_inbound_whatsapp_at: datetime | None = None,
) -> Customer:
    """A customer with consent rows (default: opted in to every channel in ``channels``)."""
    customer = Customer(
        brand_id=brand.id,
        name="Asha Rao",
        email=email,
        phone=phone,
        language=language,
        time_zone=time_zone,
        country="IN",
        channel_order=list(channels),
        last_inbound_whatsapp_at=last_inbound_whatsapp_at,
    )
    consents = opted_in if opted_in is not None else {name: True for name in channels}
    for name, value in consents.items():
        customer.consents.append(
            CustomerConsent(channel=ChannelKind(name), opted_in=value, source="checkout")
        )
    session.add(customer)
    session.flush()
    return customer


def notify(
    session: Session,
    brand: BrandRow,
    customer: Customer,
    *,
    event: str = "order_confirmed",
    episode: str = "1",
    channel: ChannelKind | None = None,
    order_number: str = "KAP-100001",
    order: Order | None = None,
) -> Notification:
    """Enqueue a notification with the variables the fake renderer reads."""
    variables = {
        "customer": {"name": customer.name, "first_name": customer.name.split()[0]},
        "order": {"number": order_number},
    }
    return enqueue(
        session=session,
        brand=brand,
        customer=customer,
        event=event,
        episode=f"{order_number}:{episode}",
        variables=variables,
        channel=channel,
        order=order,
    )


def file_channels(directory: Path) -> dict[ChannelKind, Channel]:
    """The file outbox for every kind."""
    return {kind: FileOutboxChannel(kind=kind, directory=directory) for kind in ChannelKind}


def make_dispatcher(
    sessions: SessionFactory,
    brands: BrandsFile,
    channels: Mapping[ChannelKind, Channel],
    **options: Any,
) -> Dispatcher:
    """A dispatcher with the fake renderer and fast retries unless told otherwise."""
    options.setdefault("renderer", FakeRenderer())
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("concurrency", 4)
    return Dispatcher(session_factory=sessions, brands=brands, channels=channels, **options)
