"""The agent as pipeline steps, under the worker's leases.

- ``agent``: a parsed email (leased) runs through the graph: it ends resolved, archived, waiting
  for the customer, or paused for review (the graph's interrupt, checkpointed).
- ``resume``: a case a person decided (leased) resumes its graph with the decision. Nothing else
  invokes the graph: the web app and the CLI only write the decision on the case row.
A run that crashed is run again by the next worker: a graph already paused or finished is left
as it is, and every effect of a node that runs again is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import structlog
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command
from sqlalchemy import select

from tidings.agent.facts import EmailFacts, load_facts
from tidings.agent.graph import Graph
from tidings.agent.runtime import Agent
from tidings.agent.state import CaseRun, Decision
from tidings.pipeline.steps import Step
from tidings.pipeline.work import Work
from tidings.store.enums import CaseState, EmailState
from tidings.store.lease import RetryPolicy
from tidings.store.models import Case, InboundEmail

EMAIL_STATE = {
    CaseState.ESCALATED: EmailState.ESCALATED,
    CaseState.DECIDED: EmailState.ESCALATED,
    CaseState.AWAITING_CUSTOMER: EmailState.ESCALATED,
    CaseState.ARCHIVED: EmailState.ARCHIVED,
}


def run_config(agent: Agent, work: Work, thread_id: str, email: EmailFacts) -> RunnableConfig:
    """The run's config: its thread, the agent's parts, the lease and the email's facts (none of
    them checkpointed)."""
    configurable = {"thread_id": thread_id, "agent": agent, "work": work, "email": email}
    return {"configurable": configurable}


def agent_step(agent: Agent, graph: Graph) -> Step:
    """parsed email -> case resolved, archived, awaiting the customer, or escalated."""

    def run(work: Work) -> StrEnum:
        with work.read() as session:
            email = load_facts(session, work.row_id)
        config = run_config(agent, work, f"email-{work.row_id}", email)
        with structlog.contextvars.bound_contextvars(
            email_id=work.row_id, message_id=email.message_id
        ):
            snapshot = graph.get_state(config)
            durability = agent.settings.durability
            result = None
            if not snapshot.values:  # never run (or retried)
                result = graph.invoke(CaseRun(email_id=work.row_id), config, durability=durability)
            elif snapshot.next and "review" not in snapshot.next:  # a crash cut it short
                result = graph.invoke(None, config, durability=durability)
            # else: paused for review, or ended: nothing to do again
        ended = ended_in(result)
        if ended is None:  # nothing ran now: the case row says where it stands
            with work.read() as session:
                ended = session.scalars(
                    select(Case.state).where(Case.email_id == work.row_id)
                ).one()
        return EMAIL_STATE.get(ended, EmailState.RESOLVED)

    return _graph_step("agent", InboundEmail, EmailState.PARSED, EmailState.QUARANTINED, run)


def ended_in(result: dict[str, Any] | None) -> CaseState | None:
    """Where the run that just returned left its case: paused for review at the interrupt, else
    the state its last node (notify or close) wrote; None when nothing ran."""
    if result is None:
        return None
    if result.get("__interrupt__"):
        return CaseState.ESCALATED
    closing = result.get("closing")
    return CaseState(closing) if closing else None


def resume_step(agent: Agent, graph: Graph) -> Step:
    """decided case -> resumed with the decision: replied, closed, re-labelled or reassigned."""

    def run(work: Work) -> StrEnum:
        with work.read() as session:
            case = session.get_one(Case, work.row_id)
            decision = Decision.model_validate(case.decision or {})
            email_id, thread_id = case.email_id, case.thread_id or f"email-{case.email_id}"
            email = load_facts(session, email_id or 0)
        config = run_config(agent, work, thread_id, email)
        durability = agent.settings.durability
        log_context: dict[str, Any] = {"case_id": work.row_id, "email_id": email_id}
        with structlog.contextvars.bound_contextvars(**log_context):
            snapshot = graph.get_state(config)
            if "review" in snapshot.next:
                graph.invoke(Command(resume=decision.model_dump()), config, durability=durability)
            else:  # an ended run (an archived case re-labelled): a fresh run applies it
                graph.invoke(
                    CaseRun(email_id=email_id or 0, decision=decision),
                    config,
                    durability=durability,
                )
        with work.read() as session:
            state = session.get_one(Case, work.row_id).state
        if state is CaseState.DECIDED:  # the run did not reach its end: try again later
            raise RuntimeError("the decision was not applied; the case is retried")
        return state

    return _graph_step("resume", Case, CaseState.DECIDED, CaseState.FAILED, run)


def _graph_step(
    name: str, model: type[Any], consumes: StrEnum, dead: StrEnum, run: Callable[[Work], StrEnum]
) -> Step:
    """A step that runs the graph: small batches (a run takes a while), patient retries."""
    return Step(
        name=name,
        model=model,
        consumes=(consumes,),
        dead_state=dead,
        run=run,
        policy=RetryPolicy(max_attempts=5, base_seconds=10.0),
        batch=10,
    )
