"""The dashboard's figures, read in one short read-only session: queue depth, emails per hour,
the share the agent resolved alone, classification confidence, notifications per channel, dead
letters and kill switches. ``GET /api/dashboard`` returns exactly what the page shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from tidings.store.base import utcnow
from tidings.store.enums import CaseState, EmailState, NotificationState
from tidings.store.models import BrandRow, Case, InboundEmail, Notification
from tidings.store.switches import list_switches
from tidings.web.queue import QueueHealth, queue_health
from tidings.wismo.report import WismoReport, wismo_report

WINDOW = timedelta(hours=24)
DEAD_LETTERS_SHOWN = 10
# Of the cases the agent finished in the window: resolved alone, or needed a person.
AGENT_ALONE = (CaseState.AUTO_RESOLVED,)
FINISHED = (
    CaseState.AUTO_RESOLVED,
    CaseState.AWAITING_CUSTOMER,
    CaseState.ESCALATED,
    CaseState.DECIDED,
    CaseState.RESOLVED,
    CaseState.REJECTED,
)
SENT = (NotificationState.SENT, NotificationState.DELIVERED, NotificationState.READ)
FAILED = (NotificationState.FAILED, NotificationState.DEAD)


class HourCount(BaseModel):
    """Emails received in the hour starting at ``hour`` (UTC)."""

    hour: datetime
    emails: int


class ConfidenceBucket(BaseModel):
    """Cases whose classification confidence is in [low, high)."""

    low: float
    high: float
    cases: int


class ChannelCounts(BaseModel):
    """Notifications sent (sent, delivered, read) and failed (failed, dead) on one channel."""

    channel: str
    sent: int
    failed: int


class DeadLetter(BaseModel):
    """A row that gave up: a quarantined email, a failed case, a dead notification."""

    kind: Literal["email", "case", "notification"]
    id: int
    summary: str
    error: str | None
    at: datetime


class DeadLetters(BaseModel):
    """How many rows gave up, per kind, and the newest of each."""

    emails: int
    cases: int
    notifications: int
    latest: list[DeadLetter]


class SwitchLine(BaseModel):
    """One kill switch row; ``brand`` and ``category`` None mean every brand / category."""

    brand: str | None
    category: str | None
    engaged: bool
    changed_by: str
    changed_at: datetime
    note: str | None


class KillSwitches(BaseModel):
    """Whether auto-actions stop everywhere, and every switch row."""

    environment: bool  # TIDINGS_KILL_SWITCH, which only a restart changes
    everything: bool  # the environment or the global row
    engaged_brands: list[str]
    switches: list[SwitchLine]
    brands: list[str]


class Dashboard(BaseModel):
    """Everything on the dashboard, as of ``generated_at``; windowed figures cover 24 hours."""

    generated_at: datetime
    window_hours: int
    queue: QueueHealth
    emails_per_hour: list[HourCount]
    auto_resolved: int
    finished: int
    auto_resolved_share: float | None
    confidence: list[ConfidenceBucket]
    notifications: list[ChannelCounts]
    dead_letters: DeadLetters
    kill_switches: KillSwitches
    wismo: WismoReport = Field(description="proactive WISMO over the last 30 days")


def dashboard(session: Session, *, kill_switch_env: bool) -> Dashboard:
    """Read every figure now."""
    now = utcnow()
    since = now - WINDOW
    alone, finished = _auto_resolved(session, since)
    return Dashboard(
        generated_at=now,
        window_hours=int(WINDOW.total_seconds() // 3600),
        queue=queue_health(session),
        emails_per_hour=_emails_per_hour(session, now),
        auto_resolved=alone,
        finished=finished,
        auto_resolved_share=alone / finished if finished else None,
        confidence=_confidence(session, since),
        notifications=_notifications(session, since),
        dead_letters=dead_letters(session),
        kill_switches=kill_switches(session, environment=kill_switch_env),
        # 30 days, not 24 hours: WISMO emails per 1,000 orders is a monthly figure for retailers
        wismo=wismo_report(session=session, until=now),
    )


def _count_if(condition: ColumnElement[bool]) -> Any:
    """COUNT of the rows matching ``condition``, portable across SQLite and PostgreSQL."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _emails_per_hour(session: Session, now: datetime) -> list[HourCount]:
    """24 hourly buckets ending with the current hour, in one query without date functions
    (SQLite and PostgreSQL truncate dates differently)."""
    top = now.replace(minute=0, second=0, microsecond=0)
    starts = [top - timedelta(hours=n) for n in range(23, -1, -1)]
    column = InboundEmail.received_at
    counts = session.execute(
        select(*[_count_if(and_(column >= s, column < s + timedelta(hours=1))) for s in starts])
        .select_from(InboundEmail)
        .where(column >= starts[0])
    ).one()
    return [HourCount(hour=start, emails=int(n)) for start, n in zip(starts, counts, strict=True)]


def _auto_resolved(session: Session, since: datetime) -> tuple[int, int]:
    row = session.execute(
        select(_count_if(Case.state.in_(AGENT_ALONE)), _count_if(Case.state.in_(FINISHED))).where(
            Case.created_at >= since
        )
    ).one()
    return int(row[0]), int(row[1])


def _confidence(session: Session, since: datetime) -> list[ConfidenceBucket]:
    """Ten buckets of 0.1; a confidence of exactly 1.0 counts in the top one."""
    edges = [round(n / 10, 1) for n in range(11)]
    column = Case.confidence
    buckets = [
        and_(column >= low, column < high if high < 1 else column <= high)
        for low, high in pairwise(edges)
    ]
    counts = session.execute(
        select(*[_count_if(bucket) for bucket in buckets]).where(Case.created_at >= since)
    ).one()
    return [
        ConfidenceBucket(low=low, high=high, cases=int(n))
        for (low, high), n in zip(pairwise(edges), counts, strict=True)
    ]


def _notifications(session: Session, since: datetime) -> list[ChannelCounts]:
    rows = session.execute(
        select(
            Notification.channel,
            _count_if(Notification.state.in_(SENT)),
            _count_if(Notification.state.in_(FAILED)),
        )
        .where(Notification.created_at >= since)
        .group_by(Notification.channel)
        .order_by(Notification.channel)
    ).all()
    return [ChannelCounts(channel=str(r[0].value), sent=int(r[1]), failed=int(r[2])) for r in rows]


def dead_letters(session: Session, limit: int = DEAD_LETTERS_SHOWN) -> DeadLetters:
    """Counts of rows that gave up, and the newest ``limit`` of each kind, newest first."""
    emails = session.execute(
        select(
            InboundEmail.id, InboundEmail.subject, InboundEmail.last_error, InboundEmail.updated_at
        )
        .where(InboundEmail.state == EmailState.QUARANTINED)
        .order_by(InboundEmail.updated_at.desc())
        .limit(limit)
    ).all()
    cases = session.execute(
        select(Case.id, Case.category, Case.last_error, Case.updated_at)
        .where(Case.state == CaseState.FAILED)
        .order_by(Case.updated_at.desc())
        .limit(limit)
    ).all()
    notes = session.execute(
        select(
            Notification.id,
            Notification.event,
            Notification.channel,
            Notification.last_error,
            Notification.hold_reason,
            Notification.updated_at,
        )
        .where(Notification.state == NotificationState.DEAD)
        .order_by(Notification.updated_at.desc())
        .limit(limit)
    ).all()
    latest = [
        *(
            DeadLetter(kind="email", id=r[0], summary=r[1] or "(no subject)", error=r[2], at=r[3])
            for r in emails
        ),
        *(DeadLetter(kind="case", id=r[0], summary=r[1], error=r[2], at=r[3]) for r in cases),
        *(
            DeadLetter(
                kind="notification",
                id=r[0],
                summary=f"{r[1]} by {r[2].value}",
                error=r[3] or r[4],
                at=r[5],
            )
            for r in notes
        ),
    ]
    latest.sort(key=lambda letter: letter.at, reverse=True)
    return DeadLetters(
        emails=_count(session, InboundEmail.state == EmailState.QUARANTINED, InboundEmail.id),
        cases=_count(session, Case.state == CaseState.FAILED, Case.id),
        notifications=_count(
            session, Notification.state == NotificationState.DEAD, Notification.id
        ),
        latest=latest,
    )


def _count(session: Session, condition: ColumnElement[bool], column: Any) -> int:
    return int(session.scalar(select(func.count(column)).where(condition)) or 0)


def kill_switches(session: Session, *, environment: bool) -> KillSwitches:
    """The switches as the agent reads them on every case."""
    rows = list_switches(session)
    lines = [
        SwitchLine(
            brand=r.brand,
            category=r.category,
            engaged=r.engaged,
            changed_by=r.changed_by,
            changed_at=r.changed_at,
            note=r.note,
        )
        for r in rows
    ]
    global_row = any(r.engaged and r.brand is None and r.category is None for r in rows)
    return KillSwitches(
        environment=environment,
        everything=environment or global_row,
        engaged_brands=sorted(
            {r.brand for r in rows if r.engaged and r.brand and r.category is None}
        ),
        switches=lines,
        brands=list(session.scalars(select(BrandRow.slug).order_by(BrandRow.slug))),
    )
