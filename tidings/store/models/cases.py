"""Cases (what an email is about and what became of it), their trail, actions on orders, labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, WorkItemMixin, utcnow
from tidings.store.enums import ActionOutcome, CaseState, str_enum


class Case(IdMixin, TimestampMixin, WorkItemMixin, Base):
    """The exception behind one email; unique per email, so a replay adds nothing.

    The row is the one source of truth for what is due and what people see: the agent graph's
    checkpoint (``thread_id``) is only the case's resumable memory. A person's decision is
    written here (``decision``) and a worker leases the case to apply it.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_work", "state", "next_attempt_at"),
        # The review queue: escalated cases by due time, then priority.
        Index("ix_cases_queue", "state", "due_at", "priority", "id"),
    )

    brand_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    email_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("inbound_emails.id"), unique=True
    )
    order_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("orders.id"), index=True)
    order_number: Mapped[str | None] = mapped_column(
        String(64), index=True, doc="as the order API knows it (also for external order systems)"
    )
    customer_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("customers.id"))
    parent_case_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("cases.id"), index=True, doc="the case a reply threads back to"
    )
    thread_id: Mapped[str | None] = mapped_column(String(64), unique=True, doc="graph thread")
    category: Mapped[str] = mapped_column(String(40), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    alternatives: Mapped[list[Any]] = mapped_column(default=list, doc="[[label, probability], ...]")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="extracted fields")
    language: Mapped[str | None] = mapped_column(String(8))
    rationale: Mapped[str | None] = mapped_column(Text)
    classifier: Mapped[str | None] = mapped_column(String(64), doc="name@version that decided")
    needs_review: Mapped[bool] = mapped_column(default=False)
    sender_verified: Mapped[bool | None] = mapped_column(default=None)
    state: Mapped[CaseState] = mapped_column(
        str_enum(CaseState), default=CaseState.OPEN, index=True
    )
    escalation: Mapped[dict[str, Any] | None] = mapped_column(
        default=None, doc="why it was escalated and what the agent tried"
    )
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="when a person must have decided (the SLA, from the email's arrival)"
    )
    priority: Mapped[int] = mapped_column(
        Integer, default=5, doc="1 first: orders cases due at the same time"
    )
    draft_reply: Mapped[str | None] = mapped_column(Text)
    draft_source: Mapped[str | None] = mapped_column(String(40), doc="llm, template")
    draft_stale: Mapped[bool] = mapped_column(default=False, doc="a newer email arrived")
    decision: Mapped[dict[str, Any] | None] = mapped_column(default=None, doc="a person's")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text, doc="how it ended, in a line")
    closed_at: Mapped[datetime | None]


class CaseEvent(IdMixin, Base):
    """One line of a case's trail: a graph step, a guard, an action, a notice, a decision."""

    __tablename__ = "case_events"

    case_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40), doc="step, guard, action, notify, decision...")
    actor: Mapped[str] = mapped_column(String(200), default="agent")
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Action(IdMixin, Base):
    """One change made (or attempted) through the order API; the unique idempotency key makes a
    replay a no-op."""

    __tablename__ = "actions"

    case_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("cases.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("orders.id"))
    order_number: Mapped[str | None] = mapped_column(String(64))
    brand_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    request: Mapped[dict[str, Any] | None] = mapped_column(default=None, doc="validated fields")
    outcome: Mapped[ActionOutcome] = mapped_column(
        str_enum(ActionOutcome), default=ActionOutcome.PENDING
    )
    error: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200), doc="'agent' or a user's name")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    completed_at: Mapped[datetime | None]


class HumanLabel(IdMixin, Base):
    """A person's verdict on an email's category and fields; evals and retraining read these."""

    __tablename__ = "human_labels"

    email_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("inbound_emails.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("cases.id"))
    label: Mapped[str] = mapped_column(String(40))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labeller: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
