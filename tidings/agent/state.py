"""The graph's state: small, typed, and only what the next node needs (the case row holds the
rest). It is checkpointed at the review interrupt and at the end of a run."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tidings.resolvers.base import Notice
from tidings.resolvers.order_api import OrderView
from tidings.store.enums import CaseState

Route = Literal["resolve", "escalate", "close"]
DecisionAction = Literal["approve", "edit", "reject", "relabel", "reassign", "resolve"]


class Decision(BaseModel):
    """What a person decided in review; written to the case row, then resumed by a worker."""

    id: str = Field(description="unique per decision: the key of whatever it sends")
    action: DecisionAction
    by: str
    reply: str | None = Field(default=None, description="the reply as edited (edit)")
    label: str | None = Field(default=None, description="the right category (relabel)")
    assignee: str | None = None
    note: str | None = None


class TrailLine(BaseModel):
    """A line of the case's trail, carried until the next node that writes."""

    kind: str
    summary: str


class CaseRun(BaseModel):
    """One run of the graph over one case."""

    email_id: int
    case_id: int | None = None
    brand: str | None = Field(default=None, description="the email's brand (slug)")
    brand_id: int | None = None
    category: str | None = None
    confidence: float = 0.0
    fields: dict[str, Any] = Field(default_factory=dict, description="as extracted")
    language: str | None = None
    needs_review: bool = False
    order_number: str | None = None
    order: OrderView | None = Field(default=None, description="as matched, for later nodes")
    affected_orders: list[str] = Field(default_factory=list, description="supplier and carrier")
    skus: list[str] = Field(default_factory=list, description="what a supplier writes about")
    sender_verified: bool | None = None
    route: Route | None = None
    reasons: list[str] = Field(default_factory=list, description="why a person must look")
    tried: list[str] = Field(default_factory=list, description="what the agent did or tried")
    notices: list[Notice] = Field(default_factory=list)
    decision: Decision | None = None
    closing: CaseState | None = Field(default=None, description="the state the case ends in")
    resolution: str | None = None
    trail: list[TrailLine] = Field(
        default_factory=list, description="lines for the case's trail, written with the next write"
    )
