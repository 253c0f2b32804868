"""close: end a case with no message (archived, rejected, or resolved without a reply)."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from tidings.agent.runtime import add_event, node, runtime, set_case, write_trail
from tidings.agent.state import CaseRun
from tidings.logs import get_logger
from tidings.store.enums import CaseState

log = get_logger(__name__)
_BY_DECISION = {
    "reject": (CaseState.REJECTED, "rejected in review: no reply"),
    "resolve": (CaseState.RESOLVED, "resolved in review without a reply"),
}


@node
def close(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Write the closing state and the reason; a replay writes the same."""
    agent, work = runtime(config)
    closing, resolution = state.closing or CaseState.ARCHIVED, state.resolution or "closed"
    actor = "agent"
    if state.decision is not None and state.decision.action in _BY_DECISION:
        closing, resolution = _BY_DECISION[state.decision.action]
        actor = state.decision.by
    case_id = state.case_id or 0
    with work.fenced() as session:
        set_case(
            session,
            case_id,
            state=closing,
            resolution=resolution,
            closed_at=agent.clock(),
            decision=None,
        )
        write_trail(session, case_id, state.trail)
        add_event(session, case_id, "close", f"{closing.value}: {resolution}", actor=actor)
    log.info("case ended", state=closing.value, category=state.category)
    return {"closing": closing, "resolution": resolution, "trail": [], "decision": None}
