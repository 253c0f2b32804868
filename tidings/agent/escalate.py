"""escalate: put the case in the review queue with why, what was tried, a drafted reply, and when
it is due (``tidings.agent.sla``).

The draft is written outside any write transaction (it may call the LLM) and kept on a replay,
so a person never sees a draft change under them. A reassignment comes back through here: the
case keeps its draft and goes to its new assignee.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from sqlalchemy import select

from tidings.agent.draft import DraftRequest
from tidings.agent.facts import facts
from tidings.agent.runtime import add_event, node, runtime, set_case, write_trail
from tidings.agent.sla import due
from tidings.agent.state import CaseRun
from tidings.logs import get_logger
from tidings.store.enums import CaseState
from tidings.store.models import Case

log = get_logger(__name__)


@node
def escalate(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Draft a reply (unless there is one) and wait for a person."""
    agent, work = runtime(config)
    decision = state.decision
    if decision is not None and decision.action == "reassign":
        with work.fenced() as session:
            set_case(
                session,
                state.case_id,
                assignee=decision.assignee,
                state=CaseState.ESCALATED,
                decision=None,
            )
            summary = f"assigned to {decision.assignee}"
            add_event(session, state.case_id or 0, "decision", summary, actor=decision.by)
        return {"decision": None}
    own = agent.brand(state.brand)
    brand = own or agent.brands.brands[0]
    email = facts(config)
    with work.read() as session:
        draft_reply, stale = session.execute(
            select(Case.draft_reply, Case.draft_stale).where(Case.id == state.case_id)
        ).one()
    keep = draft_reply and not stale
    draft = None
    if not keep:
        draft = agent.drafter.draft(
            DraftRequest(
                category=state.category or "other",
                language=state.language or brand.default_language,
                brand=brand,
                email=email.as_input(),
                order_number=state.order_number,
                tracking_number=state.fields.get("tracking_number"),
                reasons=state.reasons,
            )
        )
    case_id = state.case_id or 0
    with work.fenced() as session:
        sla = due(
            state.category or "other",
            own,
            agent.settings,
            arrived=email.received_at or agent.clock(),
        )
        values: dict[str, Any] = {
            "state": CaseState.ESCALATED,
            "escalation": {"reasons": state.reasons, "tried": state.tried},
            "due_at": sla.at,
            "priority": sla.priority,
        }
        if draft is not None:
            values.update(draft_reply=draft.text, draft_source=draft.source, draft_stale=False)
        set_case(session, case_id, **values)
        write_trail(session, case_id, state.trail)
        why = "; ".join(state.reasons) or "a person's decision is needed"
        add_event(
            session,
            case_id,
            "escalate",
            f"to review: {why}",
            {"draft_errors": draft.errors if draft else []},
        )
    log.info("case escalated", category=state.category, reasons=len(state.reasons))
    return {"trail": []}
