"""A chunk of episodes' orders and parcels, read in a few set queries.

The scan tells episodes a chunk (an id range) at a time; each chunk reads its orders, their
customers and lines, and its parcels in one query each, selected by the chunk's range rather
than by lists of ids, and without the ORM (thousands of rows a chunk). They become the same
``OrderView`` and ``ShipmentView`` the order API gives the agent (``order_store``), so
``status.answer`` sees the same thing in both directions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from tidings.config.brands import Brand
from tidings.resolvers.order_api import OrderView, ShipmentView
from tidings.resolvers.order_store import order_view_of, shipment_view_of
from tidings.store.models import Customer, Order, OrderLine, Shipment, WismoEpisode
from tidings.wismo import policy

E = WismoEpisode
ORDER_COLUMNS = (
    *(Order.id, Order.number, Order.brand_id, Order.customer_id, Order.status),
    *(Order.currency, Order.total_minor, Order.placed_at, Order.shipping_address),
    *(Order.promised_date, Order.delivery_date, Order.delivery_slot),
)
# None of these names is an order's column too: one row serves as the order and its customer.
CUSTOMER_COLUMNS = (
    *(Customer.name, Customer.email, Customer.phone, Customer.language),
    *(Customer.time_zone, Customer.channel_order),
)


LINE_COLUMNS = (
    *(OrderLine.order_id, OrderLine.sku, OrderLine.name, OrderLine.quantity),
    *(OrderLine.unit_price_minor, OrderLine.status),
)
SHIPMENT_COLUMNS = (
    *(Shipment.id, Shipment.carrier, Shipment.tracking_number, Shipment.status),
    *(Shipment.skus, Shipment.shipped_at, Shipment.promised_date, Shipment.eta),
    *(Shipment.delivered_at, Shipment.predicted_eta, Shipment.last_scan_at),
    Shipment.delay_reported_at,
)


@dataclass
class Chunk:
    """What the notices of one chunk of episodes are made from."""

    orders: dict[int, OrderView] = field(default_factory=dict)
    customer_ids: dict[int, int] = field(default_factory=dict)  # by order id
    parcels: dict[int, ShipmentView] = field(default_factory=dict)  # by shipment id
    # An order-level episode's (a backorder's) newest parcel, by order id: what a closing
    # notice points to once the order has shipped.
    latest_parcels: dict[int, ShipmentView] = field(default_factory=dict)
    open_cases: set[int] = field(default_factory=set)  # order ids
    last_languages: dict[int, str] = field(default_factory=dict)  # by customer id


def load_chunk(
    session: Session, episodes: list[Any], brands: dict[int, Brand], chunk_of: ColumnElement[bool]
) -> Chunk:
    """Read everything the chunk's notices need (the chunk is the episodes ``chunk_of``
    selects); each parcel carries its episode's problem (its scan history is not needed for a
    notice, and is not read)."""
    chunk_orders = select(E.order_id).where(chunk_of)
    chunk_parcels = select(E.shipment_id).where(chunk_of)
    lines: dict[int, list[Any]] = defaultdict(list)
    for line in session.execute(
        select(*LINE_COLUMNS).where(OrderLine.order_id.in_(chunk_orders)).order_by(OrderLine.id)
    ):
        lines[line.order_id].append(line)
    chunk = Chunk()
    orders = (
        select(*ORDER_COLUMNS, *CUSTOMER_COLUMNS)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.id.in_(chunk_orders))
    )
    for order in session.execute(orders):
        slug = brands[order.brand_id].slug
        chunk.orders[order.id] = order_view_of(order, order, slug, lines[order.id])
        chunk.customer_ids[order.id] = order.customer_id
    problems = {row.shipment_id: row.problem.value for row in episodes if row.shipment_id}
    parcels = select(*SHIPMENT_COLUMNS).where(Shipment.id.in_(chunk_parcels))
    for parcel in session.execute(parcels):
        chunk.parcels[parcel.id] = shipment_view_of(parcel, [], problems.get(parcel.id))
    whole_orders = [row.order_id for row in episodes if not row.shipment_id]
    if whole_orders:
        newest = select(*SHIPMENT_COLUMNS, Shipment.order_id).where(
            Shipment.order_id.in_(whole_orders)
        )
        for parcel in session.execute(newest.order_by(Shipment.id)):
            chunk.latest_parcels[parcel.order_id] = shipment_view_of(parcel, [], None)
    chunk.open_cases = policy.open_case_orders(session, chunk_orders)
    brand_of = {row.order_id: brands[row.brand_id] for row in episodes}
    foreign = [
        chunk.customer_ids[order_id]
        for order_id, view in chunk.orders.items()
        if view.customer.language not in brand_of[order_id].languages
    ]
    chunk.last_languages = policy.last_email_languages(session, foreign)
    return chunk
