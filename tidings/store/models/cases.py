"""Cases (what an email is about), actions taken on orders, and human labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, utcnow
from tidings.store.enums import ActionOutcome, CaseState, str_enum


class Case(IdMixin, TimestampMixin, Base):
    """The classified exception behind one email; unique per email, so a replay adds nothing."""

    __tablename__ = "cases"

    brand_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("brands.id"), index=True)
    email_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("inbound_emails.id"), unique=True
    )
    order_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("customers.id"))
    category: Mapped[str] = mapped_column(String(40), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    alternatives: Mapped[list[Any]] = mapped_column(default=list, doc="[[label, probability], ...]")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="extracted fields")
    language: Mapped[str | None] = mapped_column(String(8))
    rationale: Mapped[str | None] = mapped_column(Text)
    classifier: Mapped[str | None] = mapped_column(String(64), doc="name@version that decided")
    state: Mapped[CaseState] = mapped_column(
        str_enum(CaseState), default=CaseState.OPEN, index=True
    )
    assignee: Mapped[str | None] = mapped_column(String(200))
    draft_reply: Mapped[str | None] = mapped_column(Text)


class Action(IdMixin, Base):
    """One change made (or attempted) through the order API; the unique idempotency key makes a
    replay a no-op."""

    __tablename__ = "actions"

    case_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("cases.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("orders.id"))
    kind: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    outcome: Mapped[ActionOutcome] = mapped_column(
        str_enum(ActionOutcome), default=ActionOutcome.PENDING
    )
    error: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200), doc="'agent' or a user's name")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
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
