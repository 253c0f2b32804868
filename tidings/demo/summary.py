"""What the demo's agent run did, counted from the rows it wrote."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.store.enums import ActionOutcome, CaseState
from tidings.store.models import Action, Case, Notification

ACTION_NAMES = {
    "change_address": "addresses changed",
    "reschedule": "deliveries rescheduled",
    "cancel_order": "orders cancelled",
    "set_eta": "ETAs updated",
}
NOTICE_NAMES = {
    "order_confirmed": "WISMO answers",
    "shipped": "WISMO answers",
    "out_for_delivery": "WISMO answers",
    "delayed": "delay notices",
    "back_on_track": "back-on-track notices",
    "delivered": "delivered notices",
    "address_confirmation_request": "address confirmations asked",
    "reschedule_options": "delivery days offered",
    "failed_attempt": "failed-attempt notices",
    "customs_action_needed": "customs notices",
    "backorder_update": "backorder notices",
    "partial_shipment": "partial-shipment notices",
}


def summary(session: Session) -> list[tuple[str, str]]:
    """(what, how many / detail) lines for the demo's closing table."""
    cases = Counter(session.scalars(select(Case.state)))
    actions = Counter(
        session.scalars(select(Action.kind).where(Action.outcome == ActionOutcome.SUCCEEDED))
    )
    notices = session.execute(select(Notification.event, Notification.language)).all()
    escalated = Counter(
        session.scalars(select(Case.category).where(Case.state == CaseState.ESCALATED))
    )
    lines = [
        ("cases auto-resolved", str(cases[CaseState.AUTO_RESOLVED])),
        ("cases waiting for the customer", str(cases[CaseState.AWAITING_CUSTOMER])),
        ("cases escalated with a drafted reply", _detail(escalated)),
        ("cases archived (no exception)", str(cases[CaseState.ARCHIVED])),
    ]
    lines += [(ACTION_NAMES.get(kind, kind), str(n)) for kind, n in sorted(actions.items())]
    by_kind = Counter(NOTICE_NAMES.get(event, event) for event, _ in notices)
    lines += [(name, str(n)) for name, n in sorted(by_kind.items())]
    languages = Counter(language for _, language in notices)
    lines.append(("messages by language", _detail(languages)))
    return lines


def _detail(counts: Counter[str]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{key} {n}" for key, n in counts.most_common())
    return f"{total} ({parts})" if parts else str(total)
