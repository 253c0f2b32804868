"""A person's decision on a case: written to the case row, never applied here.

The web app and ``tidings cases decide`` call ``record_decision``; a worker leases the decided case
and resumes its graph (``steps.resume_step``). The write is one conditional UPDATE: it succeeds
only while the case waits for a person, no worker holds it, and its email step has finished, so
a decision can never race a run of the graph (it is refused instead, and can be sent again).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from tidings.agent.runtime import add_event
from tidings.agent.state import Decision, DecisionAction
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.errors import TidingsError
from tidings.store.base import utcnow
from tidings.store.enums import CaseState, EmailState
from tidings.store.models import AuditEntry, Case, InboundEmail

# What a person may decide in each state: everything while it waits in review; an archived case
# can be re-labelled, which re-opens it.
ALLOWED: dict[CaseState, frozenset[str]] = {
    CaseState.ESCALATED: frozenset({"approve", "edit", "reject", "relabel", "reassign", "resolve"}),
    CaseState.ARCHIVED: frozenset({"relabel"}),
}
_EMAIL_BUSY = (EmailState.RECEIVED, EmailState.PARSED)


class DecisionRefusedError(TidingsError):
    """The case cannot take this decision now; the message says why and what to do."""


def new_decision(
    action: DecisionAction,
    *,
    by: str,
    reply: str | None = None,
    label: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
) -> Decision:
    """A decision with what its action needs, checked."""
    if action == "edit" and not (reply and reply.strip()):
        raise DecisionRefusedError("an edited reply needs its text")
    if action == "relabel" and label not in load_taxonomy().names:
        raise DecisionRefusedError(f"unknown category {label!r}: use one of the taxonomy's names")
    if action == "reassign" and not assignee:
        raise DecisionRefusedError("a reassignment needs the person to assign to")
    return Decision(
        id=uuid.uuid4().hex,
        action=action,
        by=by,
        reply=reply.strip() if reply else None,
        label=label,
        assignee=assignee,
        note=note,
    )


def record_decision(
    session: Session, *, case_id: int, decision: Decision, now: datetime | None = None
) -> None:
    """Write the decision on the case, in the caller's transaction, or refuse with the reason."""
    now = now or utcnow()
    states = [state for state, actions in ALLOWED.items() if decision.action in actions]
    email_done = exists().where(
        InboundEmail.id == Case.email_id,
        InboundEmail.state.not_in(_EMAIL_BUSY),
        or_(InboundEmail.lease_owner.is_(None), InboundEmail.lease_expires_at < now),
    )
    result = session.execute(
        update(Case)
        .where(
            Case.id == case_id,
            Case.state.in_(states),
            or_(Case.lease_owner.is_(None), Case.lease_expires_at < now),
            and_(email_done),
        )
        .values(
            state=CaseState.DECIDED,
            decision=decision.model_dump(mode="json"),
            decided_by=decision.by,
            decided_at=now,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult for UPDATE
        raise DecisionRefusedError(_why_refused(session, case_id, decision, now))
    add_event(session, case_id, "decision", _describe(decision), actor=decision.by)
    session.add(
        AuditEntry(
            actor=decision.by,
            action=f"decision:{decision.action}",
            entity="case",
            entity_id=str(case_id),
            details=decision.model_dump(mode="json", exclude_none=True),
        )
    )


def _why_refused(session: Session, case_id: int, decision: Decision, now: datetime) -> str:
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        return f"no case {case_id}"
    allowed = ALLOWED.get(case.state, frozenset())
    if decision.action not in allowed:
        can = ", ".join(sorted(allowed)) or "nothing (it is not waiting for a person)"
        return f"case {case_id} is {case.state.value}: a person can decide {can}"
    return (
        f"case {case_id} is being worked on by a worker right now: "
        "nothing was changed; send the decision again in a few seconds"
    )


def _describe(decision: Decision) -> str:
    details: dict[str, Any] = {
        "relabel": f" as {decision.label}",
        "reassign": f" to {decision.assignee}",
    }
    return f"decided: {decision.action}{details.get(decision.action, '')}"


def pending_decision(session: Session, case_id: int) -> Decision | None:
    """The decision waiting to be applied, if any."""
    raw = session.scalar(select(Case.decision).where(Case.id == case_id))
    return Decision.model_validate(raw) if raw else None
