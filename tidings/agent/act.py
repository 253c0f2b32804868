"""Changing an order: record the intent, make the call, record the outcome.

Every change has an idempotency key (case, kind, order) that the order API honours, an
``actions`` row (request, before, after, outcome) and an audit entry. A replay after a crash
finds the succeeded action and calls nothing; a pending one is called again with the same key,
which the order API applies once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from tidings.agent.runtime import add_event
from tidings.errors import TidingsError
from tidings.pipeline.work import Work
from tidings.resolvers.order_api import OrderView
from tidings.store.base import utcnow
from tidings.store.enums import ActionOutcome
from tidings.store.models import Action, AuditEntry, Order


def make_act(work: Work, case_id: int, brand_id: int | None) -> Callable[..., OrderView]:
    """The ``act`` function resolvers get for one case."""

    def act(
        kind: str,
        call: Callable[[str], OrderView],
        *,
        order: OrderView,
        request: dict[str, Any],
    ) -> OrderView:
        key = f"case-{case_id}/{kind}/{order.number}"
        done = _start(work, key, kind, case_id, brand_id, order, request)
        if done is not None:
            return done
        try:
            after = call(key)
        except TidingsError as exc:
            if not exc.transient:  # refused for good: recorded, and the resolver escalates
                _finish(work, key, ActionOutcome.FAILED, error=str(exc))
            raise
        _finish(work, key, ActionOutcome.SUCCEEDED, after=after)
        return after

    return act


def _start(
    work: Work,
    key: str,
    kind: str,
    case_id: int,
    brand_id: int | None,
    order: OrderView,
    request: dict[str, Any],
) -> OrderView | None:
    """Record the intent; the order as it was after, when this change already succeeded."""
    with work.fenced() as session:
        action = session.scalar(select(Action).where(Action.idempotency_key == key))
        if action is not None and action.outcome is ActionOutcome.SUCCEEDED and action.after:
            return OrderView.model_validate(action.after)
        if action is None:
            session.add(
                Action(
                    case_id=case_id,
                    order_id=session.scalar(select(Order.id).where(Order.number == order.number)),
                    order_number=order.number,
                    brand_id=brand_id,
                    kind=kind,
                    idempotency_key=key,
                    request=request,
                    before=order.model_dump(mode="json"),
                    actor="agent",
                )
            )
    return None


def _finish(
    work: Work,
    key: str,
    outcome: ActionOutcome,
    *,
    after: OrderView | None = None,
    error: str | None = None,
) -> None:
    with work.fenced() as session:
        action = session.scalars(select(Action).where(Action.idempotency_key == key)).one()
        action.outcome, action.error, action.completed_at = outcome, error, utcnow()
        action.after = after.model_dump(mode="json") if after else None
        session.add(
            AuditEntry(
                actor="agent",
                action=f"{action.kind}:{outcome.value}",
                entity="order",
                entity_id=action.order_number or "",
                before=action.before,
                after=action.after,
                details={"case_id": action.case_id, "request": action.request, "error": error},
            )
        )
        summary = f"{action.kind} on {action.order_number}: {outcome.value}"
        add_event(
            session, action.case_id or 0, "action", summary + (f" ({error})" if error else "")
        )
