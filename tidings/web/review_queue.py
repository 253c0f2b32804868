"""The review queue: escalated cases in the order a person should take them (due time, then
priority, then age; never last activity), filtered by brand, category, language, age and
assignee, with a count for every value of every filter.

One read transaction: a page of cases, the total, the overdue count, and per filter the counts
under the other filters (so "kapas 12" means 12 cases a click on kapas would show).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, TypeVarTuple

from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tidings.store.base import utcnow
from tidings.store.enums import CaseState
from tidings.store.models import BrandRow, Case, InboundEmail

Age = Literal["lt1h", "1-4h", "4-24h", "gt24h"]
AGES: dict[str, str] = {
    "lt1h": "under 1 h",
    "1-4h": "1–4 h",
    "4-24h": "4–24 h",
    "gt24h": "over 24 h",
}
Facet = Literal["brand", "category", "language", "age", "assignee"]
FACETS: tuple[Facet, ...] = ("brand", "category", "language", "age", "assignee")
_Ts = TypeVarTuple("_Ts")
UNASSIGNED = "-"  # no user name starts with "-": the assignee filter's "nobody"
UNKNOWN = "-"


class QueueFilters(BaseModel):
    """What the queue shows; an unset filter shows everything."""

    brand: str | None = Field(default=None, max_length=40)
    category: str | None = Field(default=None, max_length=40)
    language: str | None = Field(default=None, max_length=8)
    age: Age | None = None
    assignee: str | None = Field(
        default=None, max_length=200, description=f"a user name, or {UNASSIGNED!r} for nobody"
    )

    def active(self) -> dict[str, str]:
        """The filters set, as query parameters."""
        return {k: str(v) for k, v in self.model_dump().items() if v}


class QueueItem(BaseModel):
    """One escalated case as the queue lists it."""

    id: int
    brand: str | None
    category: str
    confidence: float
    language: str | None
    subject: str | None
    sender: str | None
    order: str | None
    received_at: datetime | None
    due_at: datetime | None
    overdue: bool
    priority: int
    assignee: str | None
    draft_stale: bool
    reason: str | None = Field(description="the first reason it was escalated")


class FacetCount(BaseModel):
    """How many cases a filter value would show, the other filters applied."""

    value: str
    count: int


class QueuePage(BaseModel):
    """A page of the queue (``GET /api/cases``)."""

    filters: QueueFilters
    total: int
    overdue: int
    offset: int
    limit: int
    items: list[QueueItem]
    facets: dict[str, list[FacetCount]]
    generated_at: datetime


def queue_page(
    session: Session,
    filters: QueueFilters,
    *,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
) -> QueuePage:
    """The queue under ``filters``, ``limit`` cases from ``offset``, with every count."""
    now = now or utcnow()
    slugs = _slugs(session)
    ids = {slug: brand_id for brand_id, slug in slugs.items()}
    where = _conditions(filters, ids, now)
    every = list(where.values())
    counted = select(func.count(), func.count(case((Case.due_at < now, 1))))
    total, overdue = session.execute(_from(counted, filters).where(*every)).one()
    rows = session.execute(
        _from(select(*_ITEM_COLUMNS), filters, join=True)
        .where(*every)
        .order_by(*QUEUE_ORDER)
        .offset(offset)
        .limit(limit)
    ).all()
    return QueuePage(
        filters=filters,
        total=int(total),
        overdue=int(overdue),
        offset=offset,
        limit=limit,
        items=[_item(row, slugs, now) for row in rows],
        facets={facet: _facet(session, facet, filters, where, slugs, now) for facet in FACETS},
        generated_at=now,
    )


def neighbour(
    session: Session, filters: QueueFilters, case_id: int, *, now: datetime | None = None
) -> int | None:
    """The case after ``case_id`` in queue order under ``filters`` (the first one when it has
    left the queue, or was last); None when nothing else waits."""
    now = now or utcnow()
    ids = {slug: brand_id for brand_id, slug in _slugs(session).items()}
    every = list(_conditions(filters, ids, now).values())
    here = session.execute(
        select(Case.due_at, Case.priority).where(Case.id == case_id)
    ).one_or_none()
    query = _from(select(Case.id), filters).where(*every, Case.id != case_id).order_by(*QUEUE_ORDER)
    if here is not None and here.due_at is not None:
        due_at, priority = here
        after = or_(
            Case.due_at > due_at,
            and_(Case.due_at == due_at, Case.priority > priority),
            and_(Case.due_at == due_at, Case.priority == priority, Case.id > case_id),
        )
        found = session.scalar(query.where(after).limit(1))
        if found is not None:
            return int(found)
    first = session.scalar(query.limit(1))
    return int(first) if first is not None else None


QUEUE_ORDER = (Case.due_at, Case.priority, Case.id)
_ITEM_COLUMNS = (
    Case.id,
    Case.brand_id,
    Case.category,
    Case.confidence,
    Case.language,
    InboundEmail.subject,
    InboundEmail.sender,
    Case.order_number,
    InboundEmail.received_at,
    Case.due_at,
    Case.priority,
    Case.assignee,
    Case.draft_stale,
    Case.escalation,
)


def _from(query: Select[*_Ts], filters: QueueFilters, *, join: bool = False) -> Select[*_Ts]:
    """Cases, joined to their email where the age filter or the columns need it."""
    query = query.select_from(Case)
    if join or filters.age is not None:
        query = query.outerjoin(InboundEmail, InboundEmail.id == Case.email_id)
    return query


def _arrived() -> ColumnElement[Any]:
    return func.coalesce(InboundEmail.received_at, Case.created_at)


def _age_bucket(now: datetime) -> ColumnElement[Any]:
    arrived = _arrived()
    return case(
        (arrived > now - timedelta(hours=1), "lt1h"),
        (arrived > now - timedelta(hours=4), "1-4h"),
        (arrived > now - timedelta(hours=24), "4-24h"),
        else_="gt24h",
    )


def _conditions(
    filters: QueueFilters, brand_ids: dict[str, int], now: datetime
) -> dict[str, ColumnElement[bool]]:
    """One condition per filter set, and the queue's own (escalated) under "state"."""
    where: dict[str, ColumnElement[bool]] = {"state": Case.state == CaseState.ESCALATED}
    if filters.brand is not None:
        where["brand"] = Case.brand_id == brand_ids.get(filters.brand, -1)
    if filters.category is not None:
        where["category"] = Case.category == filters.category
    if filters.language is not None:
        unknown = filters.language == UNKNOWN
        where["language"] = (
            Case.language.is_(None) if unknown else Case.language == filters.language
        )
    if filters.age is not None:
        where["age"] = _age_bucket(now) == filters.age
    if filters.assignee is not None:
        nobody = filters.assignee == UNASSIGNED
        where["assignee"] = Case.assignee.is_(None) if nobody else Case.assignee == filters.assignee
    return where


def _facet(
    session: Session,
    facet: Facet,
    filters: QueueFilters,
    where: dict[str, ColumnElement[bool]],
    slugs: dict[int, str],
    now: datetime,
) -> list[FacetCount]:
    """Counts per value of ``facet`` under every other filter."""
    columns: dict[str, Any] = {
        "brand": Case.brand_id,
        "category": Case.category,
        "language": Case.language,
        "assignee": Case.assignee,
        "age": _age_bucket(now),
    }
    column = columns[facet]
    others = [condition for name, condition in where.items() if name != facet]
    query = _from(select(column, func.count()), filters, join=facet == "age")
    rows = session.execute(query.where(*others).group_by(column)).all()
    counts = [FacetCount(value=_label(facet, value, slugs), count=int(n)) for value, n in rows]
    if facet == "age":
        order = list(AGES)
        return sorted(counts, key=lambda c: order.index(c.value))
    return sorted(counts, key=lambda c: (-c.count, c.value))


def _label(facet: Facet, value: Any, slugs: dict[int, str]) -> str:
    if facet == "brand":
        return slugs.get(value, UNKNOWN) if value is not None else UNKNOWN
    if value is None:
        return UNASSIGNED if facet == "assignee" else UNKNOWN
    return str(value)


def _slugs(session: Session) -> dict[int, str]:
    return {int(i): str(s) for i, s in session.execute(select(BrandRow.id, BrandRow.slug))}


def _item(row: Any, slugs: dict[int, str], now: datetime) -> QueueItem:
    reasons = (row.escalation or {}).get("reasons") or []
    return QueueItem(
        id=row.id,
        brand=slugs.get(row.brand_id) if row.brand_id is not None else None,
        category=row.category,
        confidence=row.confidence,
        language=row.language,
        subject=row.subject,
        sender=row.sender,
        order=row.order_number,
        received_at=row.received_at,
        due_at=row.due_at,
        overdue=row.due_at is not None and row.due_at < now,
        priority=row.priority,
        assignee=row.assignee,
        draft_stale=row.draft_stale,
        reason=str(reasons[0]) if reasons else None,
    )


def span(seconds: float) -> str:
    """A duration as a person reads it: "45 min", "3 h 10 min", "2 d 4 h"."""
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def due_label(due_at: datetime | None, now: datetime | None = None) -> str:
    """ "overdue 2 h", "due in 45 min", or "no due time"."""
    if due_at is None:
        return "no due time"
    left = (due_at - (now or utcnow())).total_seconds()
    return f"overdue {span(left)}" if left < 0 else f"due in {span(left)}"


def age_label(since: datetime | None, now: datetime | None = None) -> str:
    """How long ago: "3 h ago"."""
    if since is None:
        return ""
    return f"{span(((now or utcnow()) - since).total_seconds())} ago"
