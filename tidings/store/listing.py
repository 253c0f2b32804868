"""Read-only listings for the CLI and the web app: cases and emails, newest first, filtered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, defer

from tidings.store.enums import CaseState, EmailState
from tidings.store.models import BrandRow, Case, InboundEmail, Order

_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True)
class CaseLine:
    """One case as a listing shows it."""

    id: int
    brand: str | None
    category: str
    confidence: float
    state: str
    language: str | None
    order: str | None
    sender: str | None
    subject: str | None
    created_at: datetime


@dataclass(frozen=True)
class EmailLine:
    """One stored email as a listing shows it."""

    id: int
    mailbox: str
    brand: str | None
    state: str
    sender_kind: str | None
    language: str | None
    sender: str | None
    subject: str | None
    received_at: datetime
    error: str | None


def list_cases(
    *,
    session: Session,
    states: Sequence[CaseState] = (),
    categories: Sequence[str] = (),
    brands: Sequence[str] = (),
    languages: Sequence[str] = (),
    limit: int = 50,
) -> list[CaseLine]:
    """The newest cases matching every filter given (each filter: any of its values)."""
    query = (
        select(Case, BrandRow.slug, Order.number, InboundEmail.sender, InboundEmail.subject)
        .outerjoin(BrandRow, BrandRow.id == Case.brand_id)
        .outerjoin(Order, Order.id == Case.order_id)
        .outerjoin(InboundEmail, InboundEmail.id == Case.email_id)
        .order_by(Case.id.desc())
        .limit(limit)
    )
    query = _any_of(
        query,
        (Case.state, states),
        (Case.category, categories),
        (BrandRow.slug, brands),
        (Case.language, languages),
    )
    return [
        CaseLine(
            id=case.id,
            brand=slug,
            category=case.category,
            confidence=case.confidence,
            state=case.state.value,
            language=case.language,
            order=number,
            sender=sender,
            subject=subject,
            created_at=case.created_at,
        )
        for case, slug, number, sender, subject in session.execute(query)
    ]


def list_emails(
    *,
    session: Session,
    states: Sequence[EmailState] = (),
    mailboxes: Sequence[str] = (),
    limit: int = 50,
) -> list[EmailLine]:
    """The newest stored emails, with why a quarantined one was set aside."""
    query = (
        select(InboundEmail, BrandRow.slug)
        .options(defer(InboundEmail.parsed))  # raw is deferred by the model; parsed is big too
        .outerjoin(BrandRow, BrandRow.id == InboundEmail.brand_id)
        .order_by(InboundEmail.id.desc())
        .limit(limit)
    )
    query = _any_of(query, (InboundEmail.state, states), (InboundEmail.mailbox, mailboxes))
    return [
        EmailLine(
            id=email.id,
            mailbox=email.mailbox,
            brand=slug,
            state=email.state.value,
            sender_kind=email.sender_kind,
            language=email.language,
            sender=email.sender,
            subject=email.subject,
            received_at=email.received_at,
            error=email.last_error,
        )
        for email, slug in session.execute(query)
    ]


def _any_of(query: Select[*_Ts], *filters: tuple[Any, Sequence[Any]]) -> Select[*_Ts]:
    """Each filter given (a column and its wanted values) narrows the query; empty ones don't."""
    for column, values in filters:
        if values:
            query = query.where(column.in_(list(values)))
    return query
