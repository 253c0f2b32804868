"""review: the graph pauses here until a person decides.

``interrupt()`` comes first and nothing with an effect precedes it: on resume LangGraph runs this
node again from its start, with ``interrupt()`` returning the decision. The decision's effects
happen in the nodes it routes to (notify, close, decide, escalate).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from tidings.agent.runtime import node
from tidings.agent.state import CaseRun, Decision


@node
def review(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Wait for the decision the worker resumes the graph with (a run started with a decision,
    because the paused checkpoint is gone, has it already)."""
    if state.decision is not None:
        return {}
    decision = interrupt({"case_id": state.case_id, "reasons": state.reasons})
    return {"decision": Decision.model_validate(decision)}
