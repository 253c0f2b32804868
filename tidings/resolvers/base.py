"""The ``Resolver`` contract: one resolver per auto-fixable category, behind guards.

A resolver reads the case and its order, checks its guards, makes its changes through the order
API (``ResolveContext.act``: intent, call, outcome, each change once per idempotency key) and
says how the case ends: resolved, waiting for the customer, or escalated with the reason. It
never sends anything itself: it returns the notices, and the graph's notify node puts them in
the outbox with the case's final state.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from tidings.config.brands import Brand
from tidings.errors import ConfigError
from tidings.resolvers.order_api import OrderAPI, OrderView, ShipmentView
from tidings.store.enums import ChannelKind, Problem

Outcome = Literal["resolved", "awaiting_customer", "escalate"]


class Notice(BaseModel):
    """A message to the customer of an order, sent when the case ends (one outbox row each,
    idempotent on brand, order, event and episode)."""

    event: str = Field(description="a template event, e.g. address_updated")
    episode: str = Field(description="tells repeats of one event on one order apart")
    order_number: str | None = Field(description="None: a reply about no order yet")
    variables: dict[str, Any] = Field(description="template variables, as JSON")
    channel: ChannelKind | None = Field(default=None, description="None: the customer's first")
    language: str | None = None
    problem: Problem | None = Field(
        default=None,
        description="a parcel's problem a carrier reported: the notice goes through its delay "
        "episode (proactive WISMO), so the customer hears of one problem once, whoever reports it",
    )
    tracking_number: str | None = Field(default=None, description="the parcel of ``problem``")


class Guard(BaseModel):
    """One check a resolver made, kept in the case's trail."""

    name: str
    passed: bool
    detail: str = ""


class Resolution(BaseModel):
    """How a resolver ended the case."""

    outcome: Outcome
    summary: str = Field(description="one line for the trail and the review queue")
    guards: list[Guard] = Field(default_factory=list)
    notices: list[Notice] = Field(default_factory=list)

    @property
    def blocked_by(self) -> list[Guard]:
        """The guards that stopped it."""
        return [g for g in self.guards if not g.passed]


@dataclass
class ResolveContext:
    """What a resolver works with. ``act`` is how it changes an order (see ``actions.py``)."""

    case_id: int
    category: str
    fields: dict[str, Any]
    language: str | None
    sender: str | None
    sender_kind: str
    sender_verified: bool | None
    brand: Brand
    order: OrderView | None
    affected_orders: list[str]
    orders: OrderAPI
    act: Callable[..., OrderView]
    today: date
    now: datetime
    text: str
    help_url: str
    reschedule_options: int = 3
    sender_medium: str = "email"  # whatsapp / sms: a chat message
    guards: list[Guard] = field(default_factory=list)

    def shipments(self, order: OrderView) -> list[ShipmentView]:
        """The order's parcels, newest scan last."""
        return self.orders.list_shipments(order.number)

    @property
    def episode(self) -> str:
        """The notice episode of this case: a replay enqueues nothing new."""
        return f"case-{self.case_id}"

    def guard(self, name: str, passed: bool, detail: str = "") -> bool:
        """Record a guard and return whether it passed."""
        self.guards.append(Guard(name=name, passed=passed, detail=detail))
        return passed

    def escalate(self, summary: str) -> Resolution:
        """End as an escalation, keeping the guards checked so far."""
        return Resolution(outcome="escalate", summary=summary, guards=list(self.guards))

    def done(self, outcome: Outcome, summary: str, notices: list[Notice]) -> Resolution:
        """End as resolved or awaiting the customer, with the notices to send."""
        return Resolution(
            outcome=outcome, summary=summary, guards=list(self.guards), notices=notices
        )


class Resolver(Protocol):
    """Resolves one category."""

    category: str

    def resolve(self, ctx: ResolveContext) -> Resolution:
        """Check the guards, act, and say how the case ends."""
        ...


R = TypeVar("R", bound=type)
_REGISTRY: dict[str, Resolver] = {}
BUILTINS = (
    "address_change",
    "delivery_reschedule",
    "wismo",
    "cancellation_request",
    "address_undeliverable",
    "failed_delivery_attempt",
    "carrier_delay",
    "customs_hold",
    "backorder_stockout",
    "partial_shipment",
)


def register(cls: R) -> R:
    """Class decorator: make a resolver available for its category; add-ons register the same
    way (import your module before building the agent)."""
    instance = cls()
    _REGISTRY[instance.category] = instance
    return cls


def resolvers() -> dict[str, Resolver]:
    """Every registered resolver by category, the built-ins first."""
    for module in BUILTINS:
        try:
            importlib.import_module(f"tidings.resolvers.{module}")
        except ModuleNotFoundError as exc:  # pragma: no cover - a packaging mistake
            raise ConfigError(f"built-in resolver {module} is missing: reinstall Tidings") from exc
    return dict(_REGISTRY)
