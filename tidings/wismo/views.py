"""A chunk of episodes' orders and parcels, read in a few set queries.

The scan tells episodes a chunk at a time; each chunk reads its orders (with customers, brands
and lines) and its parcels in one query each, which orders have a case their customer opened,
and the language of those customers' last emails. The orders and parcels become the same
``OrderView`` and ``ShipmentView`` the order API gives the agent (``order_store``), so
``status.answer`` sees the same thing in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, noload

from tidings.config.brands import Brand
from tidings.resolvers.order_api import OrderView, ShipmentView
from tidings.resolvers.order_store import ORDER_LOADS, order_view, shipment_view
from tidings.store.models import Order, Shipment
from tidings.wismo import policy


@dataclass
class Chunk:
    """What the notices of one chunk of episodes are made from."""

    orders: dict[int, OrderView] = field(default_factory=dict)
    customer_ids: dict[int, int] = field(default_factory=dict)  # by order id
    parcels: dict[int, ShipmentView] = field(default_factory=dict)  # by shipment id
    open_cases: set[int] = field(default_factory=set)  # order ids
    last_languages: dict[int, str] = field(default_factory=dict)  # by customer id


def load_chunk(session: Session, episodes: list[Any], brands: dict[int, Brand]) -> Chunk:
    """Read everything the chunk's notices need; each parcel carries its episode's problem
    (its scan history is not needed for a notice, and is not read)."""
    order_ids = sorted({row.order_id for row in episodes})
    chunk = Chunk()
    for order in session.scalars(
        select(Order).where(Order.id.in_(order_ids)).options(*ORDER_LOADS)
    ):
        chunk.orders[order.id] = order_view(order)
        chunk.customer_ids[order.id] = order.customer_id
    problems = {row.shipment_id: row.problem.value for row in episodes if row.shipment_id}
    parcels = session.scalars(
        select(Shipment).where(Shipment.id.in_(list(problems))).options(noload(Shipment.events))
    )
    chunk.parcels = {s.id: shipment_view(s, problems.get(s.id)) for s in parcels}
    chunk.open_cases = policy.open_case_orders(session, order_ids)
    brand_of = {row.order_id: brands[row.brand_id] for row in episodes}
    foreign = [
        chunk.customer_ids[order_id]
        for order_id, view in chunk.orders.items()
        if view.customer.language not in brand_of[order_id].languages
    ]
    chunk.last_languages = policy.last_email_languages(session, foreign)
    return chunk
