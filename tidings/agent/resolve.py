"""resolve: the category's resolver checks its guards and acts through the order API.

Email text reaches the order API only as validated fields (an address that validated, a date
inside the window): the resolver decides from the case's extracted fields and the order, never
from instructions in the text. An order API that refuses (a state that forbids the change) turns
the case into an escalation; one that is unreachable fails the step, which is retried.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from langchain_core.runnables import RunnableConfig

from tidings.agent.act import make_act
from tidings.agent.facts import facts
from tidings.agent.runtime import node, runtime
from tidings.agent.state import CaseRun, TrailLine
from tidings.errors import OrderNotFoundError, OrderStateError, ResolverError
from tidings.resolvers.base import Resolution, ResolveContext
from tidings.store.enums import CaseState


@node
def resolve(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Run the resolver; a resolution ends the case, anything else escalates it."""
    agent, work = runtime(config)
    email = facts(config)
    case_id = state.case_id or 0
    brand = agent.brand(state.brand)
    resolver = agent.resolvers.get(state.category or "")
    if brand is None or resolver is None:  # decide routes these to a person; kept for safety
        return {"route": "escalate", "reasons": [*state.reasons, "nothing can resolve this"]}
    order = state.order
    zone = ZoneInfo(order.customer.time_zone if order else "Asia/Kolkata")
    now = agent.clock()
    ctx = ResolveContext(
        case_id=case_id,
        category=state.category or "",
        fields={**state.fields, "skus": state.skus},
        language=state.language,
        sender=email.sender,
        sender_kind=email.sender_kind,
        sender_verified=state.sender_verified,
        sender_medium=email.medium,
        brand=brand,
        order=order,
        affected_orders=state.affected_orders,
        orders=agent.orders,
        act=make_act(work, case_id, state.brand_id),
        today=now.astimezone(zone).date(),
        now=now,
        text=email.text,
        help_url=brand.help_url or f"mailto:{brand.senders.email.address}",
        reschedule_options=agent.settings.reschedule_slots_offered,
    )
    try:
        resolution = resolver.resolve(ctx)
    except (OrderStateError, OrderNotFoundError, ResolverError) as exc:
        if exc.transient:  # an order API that did not answer: the worker retries the step
            raise
        resolution = ctx.escalate(f"the order API refused: {exc}")
    trail = [*state.trail, *_lines(resolution)]
    if resolution.outcome == "escalate":
        return {
            "trail": trail,
            "route": "escalate",
            "reasons": [*state.reasons, resolution.summary],
            "tried": [*state.tried, *(f"guard failed: {g.name}" for g in resolution.blocked_by)],
        }
    closing = (
        CaseState.AWAITING_CUSTOMER
        if resolution.outcome == "awaiting_customer"
        else CaseState.AUTO_RESOLVED
    )
    return {
        "trail": trail,
        "notices": resolution.notices,
        "closing": closing,
        "resolution": resolution.summary,
        "tried": [*state.tried, resolution.summary],
    }


def _lines(resolution: Resolution) -> list[TrailLine]:
    """The guards and the outcome, for the case's trail."""
    lines = []
    for guard in resolution.guards:
        verdict = "passed" if guard.passed else "FAILED"
        detail = f": {guard.detail}" if guard.detail else ""
        lines.append(TrailLine(kind="guard", summary=f"{guard.name} {verdict}{detail}"))
    summary = f"{resolution.outcome}: {resolution.summary}"
    return [*lines, TrailLine(kind="resolve", summary=summary)]
