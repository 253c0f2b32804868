"""Everything about one case, in the order it happened: ``tidings cases show`` and the web app's
case page read this."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.errors import TidingsError
from tidings.store.brands import brand_slug
from tidings.store.models import Action, Case, CaseEvent, InboundEmail, Notification


class EventLine(BaseModel):
    """One line of the trail."""

    at: datetime
    kind: str
    actor: str
    summary: str


class ActionLine(BaseModel):
    """One change made (or tried) on an order."""

    kind: str
    order: str | None
    outcome: str
    request: dict[str, Any] | None
    error: str | None


class NoticeLine(BaseModel):
    """One message queued for the case."""

    id: int
    event: str
    channel: str
    language: str
    state: str
    recipient: str


class CaseDetails(BaseModel):
    """A case with its email, classification, trail, actions and messages."""

    id: int
    brand: str | None
    state: str
    category: str
    confidence: float
    alternatives: list[Any]
    classifier: str | None
    rationale: str | None
    fields: dict[str, Any]
    language: str | None
    order: str | None
    sender_verified: bool | None
    parent_case_id: int | None
    escalation: dict[str, Any] | None
    draft_reply: str | None
    draft_source: str | None
    draft_stale: bool
    assignee: str | None
    resolution: str | None
    last_error: str | None
    email_from: str | None
    email_subject: str | None
    email_text: str
    message_id: str | None
    trail: list[EventLine]
    actions: list[ActionLine]
    notifications: list[NoticeLine]


def case_details(session: Session, case_id: int) -> CaseDetails:
    """The case, or ``TidingsError`` naming the id that does not exist."""
    case = session.get(Case, case_id)
    if case is None:
        raise TidingsError(f"no case {case_id}: `tidings cases list` shows the cases")
    email = session.get(InboundEmail, case.email_id) if case.email_id else None
    parsed: dict[str, Any] = (email.parsed if email else None) or {}
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
    )
    actions = session.scalars(select(Action).where(Action.case_id == case_id).order_by(Action.id))
    notices = session.scalars(
        select(Notification).where(Notification.case_id == case_id).order_by(Notification.id)
    )
    return CaseDetails(
        id=case.id,
        brand=brand_slug(session, case.brand_id),
        state=case.state.value,
        category=case.category,
        confidence=case.confidence,
        alternatives=list(case.alternatives),
        classifier=case.classifier,
        rationale=case.rationale,
        fields=dict(case.fields),
        language=case.language,
        order=case.order_number,
        sender_verified=case.sender_verified,
        parent_case_id=case.parent_case_id,
        escalation=case.escalation,
        draft_reply=case.draft_reply,
        draft_source=case.draft_source,
        draft_stale=case.draft_stale,
        assignee=case.assignee,
        resolution=case.resolution,
        last_error=case.last_error or (email.last_error if email else None),
        email_from=email.sender if email else None,
        email_subject=email.subject if email else None,
        email_text=str(parsed.get("text") or ""),
        message_id=email.message_id if email else None,
        trail=[EventLine(at=e.at, kind=e.kind, actor=e.actor, summary=e.summary) for e in events],
        actions=[
            ActionLine(
                kind=a.kind,
                order=a.order_number,
                outcome=a.outcome.value,
                request=a.request,
                error=a.error,
            )
            for a in actions
        ],
        notifications=[
            NoticeLine(
                id=n.id,
                event=n.event,
                channel=n.channel.value,
                language=n.language,
                state=n.state.value,
                recipient=n.recipient,
            )
            for n in notices
        ],
    )
