"""Small builders for rows the tests need, written through the real models."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from tidings.config import BrandsFile
from tidings.store.base import utcnow
from tidings.store.brands import sync_brands
from tidings.store.enums import OrderStatus
from tidings.store.models import BrandRow, Customer, Order, OrderLine


def brand_rows(session: Session, brands: BrandsFile) -> dict[str, BrandRow]:
    """The demo brands as rows."""
    return sync_brands(session=session, brands=brands)


def make_order(
    session: Session,
    brand: BrandRow,
    *,
    number: str = "KAP-100001",
    status: OrderStatus = OrderStatus.CONFIRMED,
    email: str = "asha.rao@example.in",
    phone: str = "+919800000001",
) -> Order:
    """A one-line order for a new customer."""
    customer = Customer(
        brand_id=brand.id,
        name="Asha Rao",
        email=email,
        phone=phone,
        language="en",
        time_zone="Asia/Kolkata",
        country="IN",
        channel_order=["whatsapp", "email"],
    )
    order = Order(
        number=number,
        brand_id=brand.id,
        customer=customer,
        status=status,
        currency="INR",
        total_minor=149900,
        placed_at=utcnow() - timedelta(days=2),
        shipping_address={
            "lines": ["12 MG Road"],
            "city": "Bengaluru",
            "state": "Karnataka",
            "postcode": "560001",
            "country": "IN",
        },
        lines=[OrderLine(sku="KAP-KRT-014", name="Kurta", quantity=1, unit_price_minor=149900)],
    )
    session.add(order)
    session.flush()
    return order
