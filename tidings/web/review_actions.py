"""What a person does to a case in review, through the agent's own functions: a decision is
written on the case row (``tidings.agent.decisions.record_decision``, the path ``tidings cases
decide`` takes) and a worker resumes the case; the web app never runs the graph. Every action
lands in the audit log with the user.

The web adds checks of its own before a decision: an approval sends the draft as it stands, so a
stale draft (a newer email arrived) is refused; an assignee must be a user who works the queue.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tidings.agent.decisions import DecisionRefusedError, new_decision, record_decision
from tidings.agent.runtime import add_event
from tidings.agent.state import DecisionAction
from tidings.errors import TidingsError
from tidings.store.base import utcnow
from tidings.store.enums import CaseState, Role
from tidings.store.models import AuditEntry, Case, User

MAX_REPLY_CHARS = 10_000
MAX_BULK = 200
QUEUE_ROLES = (Role.OPS, Role.ADMIN)


class ActionRefusedError(TidingsError):
    """The action cannot be taken; ``status`` is the HTTP answer (404, 409 or 422)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class DecisionIn(BaseModel):
    """A decision on a case: ``approve`` sends the draft, ``edit`` sends ``reply`` instead,
    ``relabel`` needs ``label``, ``reassign`` an ``assignee``; ``resolve`` closes it without a
    reply, ``reject`` closes it as nothing to do."""

    action: DecisionAction
    reply: str | None = Field(default=None, max_length=MAX_REPLY_CHARS)
    label: str | None = Field(default=None, max_length=40)
    assignee: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=500)
    draft_seen: str | None = Field(
        default=None,
        max_length=MAX_REPLY_CHARS,
        description="approve: the draft as the person read it; refused if it changed since",
    )


class Decided(BaseModel):
    """A decision recorded; a worker applies it."""

    case_id: int
    action: DecisionAction
    by: str
    summary: str


class DraftIn(BaseModel):
    """The drafted reply as a person edited it."""

    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)
    base: str | None = Field(
        default=None,
        max_length=MAX_REPLY_CHARS,
        description="the draft this edit started from; refused if someone saved another since",
    )


class BulkApproveIn(BaseModel):
    """Approve the drafts of these cases, all of ``category``."""

    category: str = Field(max_length=40)
    ids: list[int] = Field(min_length=1, max_length=MAX_BULK)


class BulkApproved(BaseModel):
    """What a bulk approval did: the cases approved, and why each other one was not."""

    approved: list[int]
    refused: dict[int, str]


def decide(session: Session, case_id: int, decision: DecisionIn, *, by: str) -> Decided:
    """Record ``decision`` on the case in the caller's transaction, or ``ActionRefusedError``."""
    case = session.get(Case, case_id)
    if case is None:
        raise ActionRefusedError(f"no case {case_id}", 404)
    if decision.action == "approve":
        _check_draft(case)
        _check_unchanged(case.draft_reply, decision.draft_seen)
    if decision.action == "reassign":
        _check_assignee(session, decision.assignee)
    try:
        made = new_decision(
            decision.action,
            by=by,
            reply=decision.reply,
            label=decision.label,
            assignee=decision.assignee,
            note=decision.note,
        )
    except DecisionRefusedError as exc:
        raise ActionRefusedError(str(exc), 422) from exc
    try:
        record_decision(session, case_id=case_id, decision=made)
    except DecisionRefusedError as exc:
        raise ActionRefusedError(str(exc)) from exc
    return Decided(case_id=case_id, action=made.action, by=by, summary=_summary(made.action))


def approve_many(session: Session, request: BulkApproveIn, *, by: str) -> BulkApproved:
    """Approve each case's draft; a case of another category, with a stale draft, or not in
    review any more is left as it is, with the reason."""
    approved: list[int] = []
    refused: dict[int, str] = {}
    for case_id in dict.fromkeys(request.ids):  # once each, in the order given
        case = session.get(Case, case_id)  # decide() finds it in the session, not the database
        category = case.category if case is not None else None
        if category is not None and category != request.category:
            refused[case_id] = f"case {case_id} is {category}, not {request.category}"
            continue
        try:
            decide(session, case_id, DecisionIn(action="approve"), by=by)
            approved.append(case_id)
        except ActionRefusedError as exc:
            refused[case_id] = str(exc)
    return BulkApproved(approved=approved, refused=refused)


def save_draft(session: Session, case_id: int, draft: DraftIn, *, by: str) -> None:
    """Keep a person's edit of the drafted reply on the case (it is no longer stale: they wrote
    it knowing the thread), while the case waits in review and no worker holds it."""
    now = utcnow()
    before = session.scalar(select(Case.draft_reply).where(Case.id == case_id))
    _check_unchanged(before, draft.base)
    done = session.execute(
        update(Case)
        .where(
            Case.id == case_id,
            Case.state == CaseState.ESCALATED,
            or_(Case.lease_owner.is_(None), Case.lease_expires_at < now),
        )
        .values(draft_reply=draft.text.strip(), draft_source="person", draft_stale=False)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]  # UPDATE's result
        state = session.scalar(select(Case.state).where(Case.id == case_id))
        if state is None:
            raise ActionRefusedError(f"no case {case_id}", 404)
        raise ActionRefusedError(f"case {case_id} is {state.value}: its draft can no longer change")
    add_event(session, case_id, "draft", "draft edited", actor=by)
    session.add(
        AuditEntry(
            actor=by,
            action="draft:edit",
            entity="case",
            entity_id=str(case_id),
            at=now,
            before={"draft_reply": before},
            after={"draft_reply": draft.text.strip()},
        )
    )


def queue_users(session: Session) -> list[str]:
    """The active users who work the queue: whom a case can be assigned to."""
    return list(
        session.scalars(
            select(User.name)
            .where(User.active.is_(True), User.role.in_(QUEUE_ROLES))
            .order_by(User.name)
        )
    )


def _check_draft(case: Case) -> None:
    if not case.draft_reply:
        raise ActionRefusedError(f"case {case.id} has no drafted reply: write one (edit)", 422)
    if case.draft_stale:
        raise ActionRefusedError(
            f"case {case.id}'s draft is stale: a newer email arrived on its thread; "
            "edit the reply (or re-run the case) before sending"
        )


def _check_unchanged(current: str | None, seen: str | None) -> None:
    """Two people on one case: what one approves or edits must be the draft they read, not one
    another person saved meanwhile (compared word by word: browsers send CRLF lines)."""
    if seen is not None and (current or "").split() != seen.split():
        raise ActionRefusedError(
            "the draft changed since you opened the case (someone else saved theirs): "
            "reload the case to read it"
        )


def _check_assignee(session: Session, assignee: str | None) -> None:
    if assignee and assignee not in queue_users(session):
        raise ActionRefusedError(
            f"{assignee!r} is not an active ops or admin user: assign to one who works the queue",
            422,
        )


_SUMMARIES: dict[str, str] = {
    "approve": "approved: the reply goes out once a worker applies it",
    "edit": "approved with your edit: it goes out once a worker applies it",
    "reject": "rejected: it closes without a reply",
    "resolve": "resolved without a reply",
    "relabel": "re-labelled: the agent takes it again under the new category",
    "reassign": "assigned: it comes back to the queue with its new assignee",
}


def _summary(action: DecisionAction) -> str:
    return _SUMMARIES[action]


def done_message(done: str | None) -> str | None:
    """The line a page shows after an action: ``done`` is "CASE:ACTION" (from a redirect)."""
    case_id, _, action = (done or "").partition(":")
    summary = {**_SUMMARIES, "rerun": "sent back to the agent: it runs the case again"}.get(action)
    if not case_id.isdigit() or summary is None:
        return None
    return f"Case {case_id} {summary}."
