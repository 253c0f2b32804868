"""``tidings cases retry``: run a case that failed again, without doubling anything it did.

A case whose email step died (the email was quarantined) starts its graph again from the top:
the case is reused, actions that succeeded are found by their keys and not repeated, messages
already queued keep their outbox rows. A case whose decision failed to apply is decided again.

``rerun_case`` is a person's "re-run" of a case waiting in review (the web app): the agent takes
it again from the top (its order, its guards, a fresh draft), keeping the classification; a
re-label is the way to change that.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from tidings.agent.decisions import DecisionRefusedError
from tidings.agent.runtime import add_event
from tidings.store.base import utcnow
from tidings.store.checkpoints import forget_thread
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, EmailState
from tidings.store.models import AuditEntry, Case, InboundEmail


@dataclass(frozen=True)
class Retry:
    """What was put back in the queue; ``thread_id`` is the graph thread to forget first."""

    summary: str
    thread_id: str | None


def retry_case(session: Session, case_id: int, *, by: str) -> Retry:
    """Queue the case again, in the caller's transaction, or refuse with the reason."""
    case = session.get(Case, case_id)
    if case is None:
        raise DecisionRefusedError(f"no case {case_id}")
    email = session.get(InboundEmail, case.email_id) if case.email_id else None
    if case.state is CaseState.FAILED and case.decision:
        _requeue(case, CaseState.DECIDED)
        add_event(session, case.id, "retry", "the decision is applied again", actor=by)
        return Retry("the decision will be applied again", None)
    if (
        email is not None
        and email.state is EmailState.QUARANTINED
        and case.state
        in (
            CaseState.OPEN,
            CaseState.FAILED,
        )
    ):
        _requeue(email, EmailState.PARSED)
        case.state = CaseState.OPEN
        add_event(session, case.id, "retry", "the agent runs the case again", actor=by)
        return Retry("the agent will run the case again", case.thread_id or f"email-{email.id}")
    raise DecisionRefusedError(f"case {case_id} is {case.state.value}: it has not failed")


def retry_and_forget(factory: SessionFactory, database_url: str, case_id: int, *, by: str) -> Retry:
    """Queue the case again in its own transaction, then forget its graph thread so the agent
    starts it afresh (``tidings cases retry`` and the dashboard's replay button)."""
    with transaction(factory) as session:
        retry = retry_case(session, case_id, by=by)
    if retry.thread_id:
        forget_thread(database_url, retry.thread_id)
    return retry


def _requeue(row: Case | InboundEmail, state: CaseState | EmailState) -> None:
    row.state = state
    row.attempts, row.next_attempt_at, row.last_error = 0, None, None
    row.lease_owner = row.lease_expires_at = None


def rerun_case(factory: SessionFactory, database_url: str, case_id: int, *, by: str) -> Retry:
    """Send a case waiting in review back through the agent, or ``DecisionRefusedError``.

    Three short steps, each safe to repeat: the case leaves review (one conditional UPDATE, so
    no decision or worker can take it meanwhile), its paused graph run is forgotten, and its
    email is queued for the agent again. A re-run cut short after the first step can be sent
    again: a case open in the agent whose email is not queued is taken up where it stopped.
    """
    now = utcnow()
    with transaction(factory) as session:
        case = session.get(Case, case_id)
        if case is None or case.email_id is None:
            raise DecisionRefusedError(f"no case {case_id} with an email to run again")
        email_id, thread_id = case.email_id, case.thread_id or f"email-{case.email_id}"
        taken = session.execute(
            update(Case)
            .where(
                Case.id == case_id,
                Case.state.in_([CaseState.ESCALATED, CaseState.OPEN]),
                or_(Case.lease_owner.is_(None), Case.lease_expires_at < now),
            )
            .values(state=CaseState.OPEN, draft_stale=True, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        email = session.get_one(InboundEmail, email_id)
        stuck = email.state is EmailState.ESCALATED
        if taken.rowcount == 0 or not stuck:  # type: ignore[attr-defined]  # UPDATE's result
            raise DecisionRefusedError(
                f"case {case_id} is {case.state.value} and its email {email.state.value}: only "
                "a case waiting in review, with no worker on it, can be run again"
            )
        add_event(session, case_id, "retry", "run again: the agent takes the case afresh", actor=by)
        session.add(AuditEntry(actor=by, action="rerun", entity="case", entity_id=str(case_id)))
    forget_thread(database_url, thread_id)
    with transaction(factory) as session:
        _requeue(session.get_one(InboundEmail, email_id), EmailState.PARSED)
    return Retry("the agent will run the case again", thread_id)
