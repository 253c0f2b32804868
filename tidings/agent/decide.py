"""decide: resolve automatically, escalate to a person, or close (archive) the case.

An auto-action needs every one of: the classifier sure (its per-category threshold, raised by
the brand's), the brand's policy allowing the category, a resolver for it, no kill switch
(global, brand or category) engaged, and the brand under its hourly auto-action limit. The
resolver then adds its own guards (a matched order, the sender being its customer...). Archiving
is an action too (tidings/classifiers/archiving.py): "no exception" is archived only when the
classifier is sure, and a customer's email only when it is very sure; otherwise a person looks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tidings.agent.facts import facts
from tidings.agent.runtime import Agent, add_event, node, runtime
from tidings.agent.state import CaseRun, Decision, TrailLine
from tidings.classifiers.archiving import archives
from tidings.classifiers.taxonomy import OTHER
from tidings.store.enums import CaseState
from tidings.store.models import Case, HumanLabel, KillSwitch


@node
def decide(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Route the case, saying why when a person must look."""
    agent, work = runtime(config)
    update: dict[str, Any] = {}
    if state.decision is not None and state.decision.action == "relabel":
        update = {**_relabel(work, state.case_id, state.decision), "decision": None}
        state = state.model_copy(update=update)
    elif state.decision is not None:  # a person decided already: their decision, not a rerun
        return {"route": "escalate"}
    with work.read() as session:
        reasons = _reasons(agent, session, facts(config).sender_kind, state)
    archive = state.category == OTHER and not reasons
    route = "close" if archive else ("escalate" if reasons else "resolve")
    summary = {"close": "archived: no exception", "resolve": "resolving automatically"}
    line = TrailLine(kind="decide", summary=summary.get(route, "; ".join(reasons)))
    return {
        **update,
        "trail": [*state.trail, line],
        "route": route,
        "reasons": reasons,
        "closing": CaseState.ARCHIVED if archive else None,
        "resolution": "no exception: archived" if archive else None,
    }


def _reasons(agent: Agent, session: Session, sender_kind: str, state: CaseRun) -> list[str]:
    """Every reason a person must look; none means the agent may act."""
    relabelled = state.decision is not None and state.decision.action == "relabel"
    if state.category == OTHER:
        sure = archives(
            OTHER,
            state.confidence,
            needs_review=state.needs_review,
            sender_kind=sender_kind,
            customer_min_confidence=agent.settings.archive_min_confidence,
            other_min_confidence=agent.settings.archive_min_confidence_others,
        )
        if sure or relabelled:
            return []
        who = "a customer's email" if sender_kind == "customer" else "the email"
        return [f"{who} read as no exception at {state.confidence:.2f}, not sure enough to archive"]
    reasons = []
    if state.needs_review and not relabelled:
        reasons.append(f"the classifier is unsure ({state.confidence:.2f})")
    slug = state.brand
    brand = agent.brand(slug)
    if brand is None:
        reasons.append("the email's brand is unknown")
    elif state.category not in brand.policies.auto_resolve:
        reasons.append(f"{brand.name} handles {state.category} in person (policy)")
    if state.category not in agent.resolvers:
        reasons.append(f"no resolver for {state.category}")
    category = state.category or ""
    switch = agent.recent(
        ("switch", slug, category),
        SWITCH_SECONDS,
        lambda: engaged_switch(session, slug, category, agent.kill_switch),
    )
    if switch:
        reasons.append(switch)
    if brand is not None and not reasons:
        done = agent.recent(
            ("auto-resolved", state.brand_id),
            LIMIT_SECONDS,
            lambda: _auto_resolved_last_hour(session, state.brand_id, agent),
        )
        if done >= brand.policies.auto_actions_per_hour:
            reasons.append(f"{brand.name} reached {done} auto-actions this hour (its limit)")
    return reasons


# A switch takes effect within a second on every worker; the hourly limit is counted every 5 s.
SWITCH_SECONDS = 1.0
LIMIT_SECONDS = 5.0


def engaged_switch(session: Session, brand: str | None, category: str, global_on: bool) -> str:
    """Why auto-actions are off for this brand and category, or "" when they are on."""
    if global_on:
        return "kill switch engaged (TIDINGS_KILL_SWITCH)"
    row = session.scalar(
        select(KillSwitch)
        .where(
            KillSwitch.engaged.is_(True),
            or_(KillSwitch.brand.is_(None), KillSwitch.brand == brand),
            or_(KillSwitch.category.is_(None), KillSwitch.category == category),
        )
        .limit(1)
    )
    if row is None:
        return ""
    scope = " / ".join(part for part in (row.brand, row.category) if part) or "everything"
    return f"kill switch engaged for {scope} by {row.changed_by}"


def _auto_resolved_last_hour(session: Session, brand_id: int | None, agent: Agent) -> int:
    since = agent.clock() - timedelta(hours=1)
    count = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(
            Case.brand_id == brand_id,
            Case.state == CaseState.AUTO_RESOLVED,
            Case.closed_at >= since,
        )
    )
    return int(count or 0)


def _relabel(work: Any, case_id: int | None, decision: Decision) -> dict[str, Any]:
    """A person's label replaces the model's; it is kept for training (human_labels)."""
    label = decision.label or OTHER
    with work.fenced() as session:
        case = session.get_one(Case, case_id)
        seen = session.scalar(
            select(HumanLabel.id).where(
                HumanLabel.case_id == case.id, HumanLabel.note == f"decision {decision.id}"
            )
        )
        if seen is None and case.email_id is not None:
            session.add(
                HumanLabel(
                    email_id=case.email_id,
                    case_id=case.id,
                    label=label,
                    fields=case.fields,
                    labeller=decision.by,
                    note=f"decision {decision.id}",
                )
            )
            add_event(
                session,
                case.id,
                "decision",
                f"re-labelled {case.category} -> {label}",
                actor=decision.by,
            )
        case.category, case.confidence, case.needs_review = label, 1.0, False
    return {"category": label, "confidence": 1.0, "needs_review": False}
