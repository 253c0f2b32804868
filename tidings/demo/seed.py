"""Generate the demo world: brands, customers, orders in every state, parcels, tracking events.

Deterministic for a given seed and "now", so tests and screenshots are repeatable. The fixed
"anchor" customers and orders of ``anchors.yaml`` are the ones the bundled sample emails talk
about; everything else is random around them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from tidings.config.brands import BrandsFile
from tidings.demo import catalog
from tidings.demo.tracking import build_events, tracking_number
from tidings.domain import Address, to_minor
from tidings.errors import ConfigError
from tidings.store.base import utcnow
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, LineStatus, OrderStatus, ShipmentStatus
from tidings.store.models import BrandRow, Customer, CustomerConsent, Order, OrderLine, Shipment

ANCHORS_FILE = Path(__file__).resolve().parent / "anchors.yaml"
ORDER_PREFIX = {"kapas": ("KAP-", 6), "seri": ("SERI-", 5), "griha": ("GRH-", 6)}

# Share of random orders per status, and how many days ago such orders were placed.
STATUS_MIX: list[tuple[OrderStatus, int, tuple[int, int]]] = [
    (OrderStatus.PENDING_PAYMENT, 3, (0, 1)),
    (OrderStatus.CONFIRMED, 10, (0, 2)),
    (OrderStatus.PACKED, 7, (1, 3)),
    (OrderStatus.SHIPPED, 24, (1, 9)),
    (OrderStatus.PARTIALLY_SHIPPED, 4, (2, 9)),
    (OrderStatus.OUT_FOR_DELIVERY, 6, (2, 8)),
    (OrderStatus.DELIVERED, 36, (5, 45)),
    (OrderStatus.CANCELLED, 6, (1, 30)),
    (OrderStatus.RETURNED, 4, (15, 45)),
]
# What a shipped-but-undelivered parcel is doing.
IN_FLIGHT_MIX = [
    (ShipmentStatus.IN_TRANSIT, 74),
    (ShipmentStatus.LABEL_CREATED, 5),
    (ShipmentStatus.FAILED_ATTEMPT, 10),
    (ShipmentStatus.EXCEPTION, 7),
    (ShipmentStatus.HELD_CUSTOMS, 4),
]
FINAL_SHIPMENT_STATUS = {
    OrderStatus.OUT_FOR_DELIVERY: ShipmentStatus.OUT_FOR_DELIVERY,
    OrderStatus.DELIVERED: ShipmentStatus.DELIVERED,
    OrderStatus.RETURNED: ShipmentStatus.RETURNED,
}


class AnchorShipment(BaseModel):
    """A fixed parcel of an anchor order."""

    carrier: str
    tracking_number: str
    status: ShipmentStatus
    promised_in_days: int = 2
    skus: list[str] | None = None


class AnchorLine(BaseModel):
    """A fixed order line."""

    sku: str
    name: str
    quantity: int = Field(default=1, ge=1)
    unit_price: Decimal


class AnchorOrder(BaseModel):
    """A fixed order that sample emails refer to."""

    number: str
    status: OrderStatus
    placed_days_ago: int = Field(ge=0)
    lines: list[AnchorLine] = Field(min_length=1)
    shipments: list[AnchorShipment] = Field(default_factory=list)


class AnchorCustomer(BaseModel):
    """A fixed customer that sample emails come from."""

    brand: str
    name: str
    email: str
    phone: str
    language: str
    time_zone: str
    country: str
    channels: list[ChannelKind]
    address: Address
    orders: list[AnchorOrder]


class Anchors(BaseModel):
    """The whole anchors file."""

    customers: list[AnchorCustomer]


def load_anchors(path: Path = ANCHORS_FILE) -> Anchors:
    """Read the anchors file; an absent file means no anchors."""
    if not path.is_file():
        return Anchors(customers=[])
    return Anchors.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass
class SeedReport:
    """What the generator wrote."""

    brands: int = 0
    customers: int = 0
    orders: int = 0
    shipments: int = 0
    tracking_events: int = 0
    late_shipments: int = 0
    orders_by_status: Counter[str] = field(default_factory=Counter)
    customers_by_language: Counter[str] = field(default_factory=Counter)

    def count(self, order: Order, today: date) -> None:
        """Add one order (with its parcels) to the totals."""
        self.orders += 1
        self.orders_by_status[order.status.value] += 1
        for shipment in order.shipments:
            self.shipments += 1
            self.tracking_events += len(shipment.events)
            undelivered = shipment.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
            if undelivered and shipment.promised_date and shipment.promised_date < today:
                self.late_shipments += 1


class _World:
    """Random but reproducible customers, orders and parcels."""

    def __init__(self, rng: random.Random, now: datetime, brand_rows: dict[str, BrandRow]) -> None:
        self.rng, self.now, self.brand_rows = rng, now, brand_rows
        self.used_numbers: set[str] = set()
        self.used_tracking: set[str] = set()
        self.used_emails: set[tuple[str, str]] = set()
        self.next_number = {
            slug: 10 ** (width - 1) + 1234 for slug, (_, width) in ORDER_PREFIX.items()
        }

    # -- customers ------------------------------------------------------------------------

    def random_customer(self, brand: str) -> Customer:
        rng = self.rng
        country, language = self._market(brand)
        first = rng.choice(catalog.FIRST_NAMES[language])
        last = rng.choice(catalog.LAST_NAMES[language])
        email = self._unique_email(brand, first, last, country)
        channels = [ChannelKind.WHATSAPP, ChannelKind.EMAIL, ChannelKind.SMS]
        rng.shuffle(channels)
        customer = Customer(
            brand_id=self.brand_rows[brand].id,
            name=f"{first} {last}",
            email=email,
            phone=self._phone(country),
            language=language,
            time_zone=catalog.TIME_ZONES[country],
            country=country,
            channel_order=[c.value for c in channels[: rng.randint(1, 3)]],
        )
        self._consents(customer, opted_out=rng.random() < 0.05)
        return customer

    def anchor_customer(self, anchor: AnchorCustomer) -> Customer:
        self.used_emails.add((anchor.brand, anchor.email.lower()))
        customer = Customer(
            brand_id=self.brand_rows[anchor.brand].id,
            name=anchor.name,
            email=anchor.email.lower(),
            phone=anchor.phone,
            language=anchor.language,
            time_zone=anchor.time_zone,
            country=anchor.country,
            channel_order=[c.value for c in anchor.channels],
        )
        self._consents(customer, opted_out=False)
        return customer

    def _consents(self, customer: Customer, *, opted_out: bool) -> None:
        for channel in ChannelKind:
            wanted = channel.value in customer.channel_order or channel is ChannelKind.EMAIL
            customer.consents.append(
                CustomerConsent(
                    channel=channel,
                    opted_in=wanted and not (opted_out and channel is not ChannelKind.EMAIL),
                    source="reply STOP" if opted_out and wanted else "checkout",
                    changed_at=self.now - timedelta(days=self.rng.randint(30, 400)),
                )
            )

    def _market(self, brand: str) -> tuple[str, str]:
        markets = catalog.MARKETS[brand]
        country, language, _ = self.rng.choices(markets, weights=[m[2] for m in markets])[0]
        return country, language

    def _unique_email(self, brand: str, first: str, last: str, country: str) -> str:
        domain = self.rng.choice(catalog.EMAIL_DOMAINS[country])
        base = f"{first}.{last}".lower().replace("'", "")
        email = f"{base}@{domain}"
        while (brand, email) in self.used_emails:
            email = f"{base}{self.rng.randint(1, 9999)}@{domain}"
        self.used_emails.add((brand, email))
        return email

    def _phone(self, country: str) -> str:
        digits = {
            "IN": "9" + self._digits(9),
            "ID": "81" + self._digits(9),
            "MY": "1" + self._digits(8),
        }
        return catalog.PHONE_PREFIX[country] + digits[country]

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    # -- orders ---------------------------------------------------------------------------

    def order_number(self, brand: str) -> str:
        prefix, width = ORDER_PREFIX[brand]
        while True:
            number = f"{prefix}{self.next_number[brand]:0{width}d}"
            self.next_number[brand] += self.rng.randint(1, 3)
            if number not in self.used_numbers:
                self.used_numbers.add(number)
                return number

    def random_order(self, brand: str, customer: Customer) -> Order:
        rng = self.rng
        status, _, (low, high) = rng.choices(STATUS_MIX, weights=[s[1] for s in STATUS_MIX])[0]
        placed_at = self.now - timedelta(days=rng.randint(low, high), minutes=rng.randint(0, 1439))
        currency = catalog.CURRENCY[customer.country or "IN"]
        products = rng.sample(
            catalog.PRODUCTS[brand],
            k=min(len(catalog.PRODUCTS[brand]), rng.choices([1, 2, 3], [6, 3, 1])[0]),
        )
        if status is OrderStatus.PARTIALLY_SHIPPED and len(products) < 2:
            products = rng.sample(catalog.PRODUCTS[brand], k=2)
        home = self._home_currency(brand)
        lines = [
            OrderLine(
                sku=p.sku,
                name=p.name,
                quantity=rng.choices([1, 2, 3], [8, 2, 1])[0],
                unit_price_minor=to_minor(self._price(p.price, home, currency), currency),
            )
            for p in products
        ]
        order = self._order(
            brand, customer, self.order_number(brand), status, placed_at, currency, lines
        )
        order.shipping_address = self._address(customer.country or "IN").model_dump(
            exclude_none=True
        )
        self._random_shipments(order, brand)
        return order

    def anchor_order(
        self, brand: str, customer: Customer, anchor: AnchorOrder, address: Address
    ) -> Order:
        self.used_numbers.add(anchor.number)
        placed_at = self.now - timedelta(days=anchor.placed_days_ago, hours=3)
        currency = catalog.CURRENCY[customer.country or "IN"]
        lines = [
            OrderLine(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price_minor=to_minor(line.unit_price, currency),
            )
            for line in anchor.lines
        ]
        order = self._order(
            brand, customer, anchor.number, anchor.status, placed_at, currency, lines
        )
        order.shipping_address = address.model_dump(exclude_none=True)
        for spec in anchor.shipments:
            self.used_tracking.add(spec.tracking_number)
            skus = spec.skus or [line.sku for line in order.lines]
            self._add_shipment(
                order,
                brand,
                spec.carrier,
                spec.tracking_number,
                spec.status,
                spec.promised_in_days,
                skus,
            )
        return order

    def _order(
        self,
        brand: str,
        customer: Customer,
        number: str,
        status: OrderStatus,
        placed_at: datetime,
        currency: str,
        lines: list[OrderLine],
    ) -> Order:
        order = Order(
            number=number,
            brand_id=self.brand_rows[brand].id,
            customer=customer,
            status=status,
            currency=currency,
            total_minor=sum(line.unit_price_minor * line.quantity for line in lines),
            placed_at=placed_at,
            promised_date=(placed_at + timedelta(days=self.rng.randint(4, 7))).date(),
            lines=lines,
        )
        if status is OrderStatus.CANCELLED:
            order.cancelled_at = placed_at + timedelta(hours=self.rng.randint(1, 20))
            for line in lines:
                line.status = LineStatus.CANCELLED
        return order

    def _random_shipments(self, order: Order, brand: str) -> None:
        status = order.status
        if status in (
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.CONFIRMED,
            OrderStatus.PACKED,
            OrderStatus.CANCELLED,
        ):
            return
        country = order.customer.country or "IN"
        carrier = self.rng.choice(catalog.CARRIERS[country])
        if status in FINAL_SHIPMENT_STATUS:
            parcel_status = FINAL_SHIPMENT_STATUS[status]
        else:
            mix = IN_FLIGHT_MIX
            parcel_status = self.rng.choices([m[0] for m in mix], weights=[m[1] for m in mix])[0]
        promised_in = (order.promised_date - self.now.date()).days if order.promised_date else 2
        skus = [line.sku for line in order.lines]
        if status is OrderStatus.PARTIALLY_SHIPPED:
            half = len(skus) // 2
            for line in order.lines[half:]:
                line.status = LineStatus.BACKORDERED
            skus = skus[:half]
        self._add_shipment(
            order, brand, carrier, self._tracking(carrier), parcel_status, promised_in, skus
        )

    def _add_shipment(
        self,
        order: Order,
        brand: str,
        carrier: str,
        number: str,
        status: ShipmentStatus,
        promised_in_days: int,
        skus: list[str],
    ) -> None:
        shipped_at = min(
            order.placed_at + timedelta(days=1, hours=self.rng.randint(0, 10)),
            self.now - timedelta(hours=6),
        )
        shipment = Shipment(
            carrier=carrier,
            tracking_number=number,
            status=status,
            skus=skus,
            shipped_at=None if status is ShipmentStatus.LABEL_CREATED else shipped_at,
            promised_date=self.now.date() + timedelta(days=promised_in_days),
        )
        shipment.eta = shipment.promised_date
        if (
            shipment.promised_date
            and shipment.promised_date < self.now.date()
            and status not in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED)
        ):
            shipment.eta = self.now.date() + timedelta(days=self.rng.randint(1, 4))
        origin = catalog.PLACES[order.customer.country or "IN"][0].city
        destination = str(order.shipping_address.get("city") or origin)
        shipment.events = build_events(
            self.rng, shipment, order.placed_at, self.now, origin, destination
        )
        if shipment.events:
            shipment.last_scan_at = shipment.tracking_updated_at = shipment.events[-1].occurred_at
        if status is ShipmentStatus.DELIVERED and shipment.events:
            shipment.delivered_at = shipment.events[-1].occurred_at
        for line in order.lines:
            if line.sku in skus and line.status is LineStatus.OPEN:
                line.status = LineStatus.SHIPPED
        order.shipments.append(shipment)

    def _tracking(self, carrier: str) -> str:
        number = tracking_number(self.rng, carrier)
        while number in self.used_tracking:
            number = tracking_number(self.rng, carrier)
        self.used_tracking.add(number)
        return number

    def _address(self, country: str) -> Address:
        place = self.rng.choice(catalog.PLACES[country])
        street = self.rng.choice(catalog.STREETS[country])
        width = {"IN": 6, "ID": 5, "MY": 5}[country]
        postcode = place.postcode_prefix + self._digits(width - len(place.postcode_prefix))
        house = f"{self.rng.randint(1, 480)}"
        return Address(
            lines=[f"No. {house}, {street}"],
            city=place.city,
            state=place.state,
            postcode=postcode,
            country=country,
        )

    @staticmethod
    def _home_currency(brand: str) -> str:
        return {"kapas": "INR", "seri": "MYR", "griha": "INR"}[brand]

    @staticmethod
    def _price(price: float, home: str, target: str) -> Decimal:
        converted = price / catalog.CURRENCY_PER_INR[home] * catalog.CURRENCY_PER_INR[target]
        step = 1000 if target == "IDR" else 1
        return Decimal(max(step, round(converted / step) * step))


def seed_demo(
    *,
    session_factory: SessionFactory,
    brands: BrandsFile,
    orders: int = 3000,
    seed: int = 42,
    now: datetime | None = None,
    anchors: Anchors | None = None,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Write brands, anchor customers and orders, then ``orders`` random orders. ``progress`` is
    called with the number of orders written since its last call."""
    missing = sorted(set(ORDER_PREFIX) - {b.slug for b in brands.brands})
    if missing:
        raise ConfigError(
            f"the demo data is written for the demo brands; {', '.join(missing)} missing from the "
            "brands file: seed with the bundled tidings/demo/brands.yaml"
        )
    now = now or utcnow()
    anchors = anchors if anchors is not None else load_anchors()
    rng = random.Random(seed)
    report = SeedReport()
    with transaction(session_factory) as session:
        brand_rows = sync_brands(session=session, brands=brands)
        report.brands = len(brand_rows)
        world = _World(rng, now, brand_rows)
        for anchor in anchors.customers:
            customer = world.anchor_customer(anchor)
            session.add(customer)
            report.customers += 1
            report.customers_by_language[customer.language] += 1
            for spec in anchor.orders:
                order = world.anchor_order(anchor.brand, customer, spec, anchor.address)
                session.add(order)
                report.count(order, now.date())
    slugs = [b.slug for b in brands.brands if b.slug in ORDER_PREFIX]
    batch = 250
    for start in range(0, orders, batch):
        with transaction(session_factory) as session:
            customers: dict[str, list[Customer]] = {slug: [] for slug in slugs}
            for _ in range(min(batch, orders - start)):
                slug = rng.choice(slugs)
                pool = customers[slug]
                # Repeat buyers: about 40% of orders come from an existing customer. A new
                # customer places this order, so every customer counted is a customer written.
                if not pool or rng.random() < 0.6:
                    customer = world.random_customer(slug)
                    pool.append(customer)
                    report.customers += 1
                    report.customers_by_language[customer.language] += 1
                else:
                    customer = rng.choice(pool)
                order = world.random_order(slug, customer)
                session.add(order)
                report.count(order, now.date())
        if progress:
            progress(min(batch, orders - start))
    return report
