"""The customer rows notices are addressed to: the order's customer (also for orders that live in
an external order system), or the sender of an email that names no order."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tidings.resolvers.contacts import e164, normalise_email
from tidings.resolvers.order_api import CustomerView
from tidings.store.base import utcnow
from tidings.store.enums import ChannelKind
from tidings.store.models import BrandRow, Customer, CustomerConsent


def customer_for(session: Session, brand: BrandRow, view: CustomerView) -> Customer:
    """The brand's customer row for an order's customer, created when the order API knows them
    and we do not yet."""
    email, phone = normalise_email(view.email), e164(view.phone)
    found = _find(session, brand, email, phone)
    if found is not None:
        return found
    customer = Customer(
        brand_id=brand.id,
        name=view.name,
        email=email,
        phone=phone,
        language=view.language,
        time_zone=view.time_zone,
        channel_order=list(view.channel_order) or [ChannelKind.EMAIL.value],
    )
    # Transactional email to the address on the order needs no opt-in; other channels do.
    customer.consents.append(
        CustomerConsent(channel=ChannelKind.EMAIL, opted_in=True, source="order API")
    )
    session.add(customer)
    session.flush()
    return customer


def sender_customer(
    session: Session,
    brand: BrandRow,
    address: str,
    name: str | None,
    language: str,
    *,
    phone: str | None = None,
    medium: ChannelKind = ChannelKind.EMAIL,
) -> Customer:
    """The customer row for someone who wrote to us (by email, or by WhatsApp/SMS from
    ``phone``) and named no order."""
    email = (normalise_email(address) or address.strip().lower()) if address else None
    number = e164(phone) if phone else None
    found = _find(session, brand, email, number)
    if found is not None:
        return found
    customer = Customer(
        brand_id=brand.id,
        name=name or (email.partition("@")[0] if email else number or "customer"),
        email=email,
        phone=number,
        language=language,
        channel_order=[medium.value],
        # They just wrote on WhatsApp: the 24-hour window for free-text answers is open.
        last_inbound_whatsapp_at=utcnow() if medium is ChannelKind.WHATSAPP else None,
    )
    # Answering on the medium they wrote on needs no opt-in; speaking first later would.
    customer.consents.append(CustomerConsent(channel=medium, opted_in=True, source="wrote to us"))
    session.add(customer)
    session.flush()
    return customer


def _find(
    session: Session, brand: BrandRow, email: str | None, phone: str | None
) -> Customer | None:
    matches = []
    if email:
        matches.append(Customer.email == email)
    if phone:
        matches.append(Customer.phone == phone)
    if not matches:
        return None
    return session.scalar(
        select(Customer).where(Customer.brand_id == brand.id, or_(*matches)).order_by(Customer.id)
    )
