"""escalate: put the case in the review queue with why, what was tried, and a drafted reply.

The draft is written outside any write transaction (it may call the LLM) and kept on a replay,
so a person never sees a draft change under them. A reassignment comes back through here: the
case keeps its draft and goes to its new assignee.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from tidings.agent.draft import DraftRequest
from tidings.agent.facts import facts
from tidings.agent.runtime import add_event, runtime, write_trail
from tidings.agent.state import CaseRun
from tidings.store.enums import CaseState
from tidings.store.models import Case


def escalate(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Draft a reply (unless there is one) and wait for a person."""
    agent, work = runtime(config)
    decision = state.decision
    if decision is not None and decision.action == "reassign":
        with work.fenced() as session:
            case = session.get_one(Case, state.case_id)
            case.assignee, case.state = decision.assignee, CaseState.ESCALATED
            case.decision = None
            add_event(
                session, case.id, "decision", f"assigned to {decision.assignee}", actor=decision.by
            )
        return {"decision": None}
    with work.read() as session:
        case = session.get_one(Case, state.case_id)
        brand = agent.brand(state.brand) or agent.brands.brands[0]
        keep = case.draft_reply and not case.draft_stale
    draft = None
    if not keep:
        draft = agent.drafter.draft(
            DraftRequest(
                category=state.category or "other",
                language=case.language or brand.default_language,
                brand=brand,
                email=facts(config).as_input(),
                order_number=state.order_number,
                tracking_number=case.fields.get("tracking_number"),
                reasons=state.reasons,
            )
        )
    with work.fenced() as session:
        row = session.get_one(Case, state.case_id)
        row.state = CaseState.ESCALATED
        row.escalation = {"reasons": state.reasons, "tried": state.tried}
        if draft is not None:
            row.draft_reply, row.draft_source, row.draft_stale = draft.text, draft.source, False
        write_trail(session, row.id, state.trail)
        why = "; ".join(state.reasons) or "a person's decision is needed"
        add_event(
            session,
            row.id,
            "escalate",
            f"to review: {why}",
            {"draft_errors": draft.errors if draft else []},
        )
    return {"trail": []}
