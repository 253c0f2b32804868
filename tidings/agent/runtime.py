"""What a graph run needs beyond its state: the agent's parts and the lease it runs under.

Both travel in the run's ``config["configurable"]`` (never in the checkpointed state): ``agent``
(an ``Agent``: classifier, order API, resolvers, drafter, settings) and ``work`` (the leased row,
whose ``fenced()`` transactions are the only way a node writes).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import structlog
from langchain_core.runnables import RunnableConfig
from sqlalchemy import update
from sqlalchemy.orm import Session

from tidings.agent.state import CaseRun, TrailLine
from tidings.classifiers.base import Classifier
from tidings.config.brands import Brand, BrandsFile
from tidings.config.settings import AgentSettings
from tidings.pipeline.work import Work
from tidings.resolvers.order_api import OrderAPI
from tidings.store.base import utcnow
from tidings.store.models import Case, CaseEvent

T = TypeVar("T")

if TYPE_CHECKING:
    from tidings.agent.draft import Drafter
    from tidings.resolvers.base import Resolver


@dataclass(frozen=True)
class Agent:
    """The agent's parts, built once per process (``tidings.agent.build.build_agent``)."""

    brands: BrandsFile
    classifier: Classifier
    orders: OrderAPI
    resolvers: Mapping[str, Resolver]
    drafter: Drafter
    settings: AgentSettings = field(default_factory=AgentSettings)
    kill_switch: bool = False  # TIDINGS_KILL_SWITCH: every auto-action becomes an escalation
    clock: Callable[[], datetime] = utcnow

    memo: dict[Hashable, tuple[float, Any]] = field(default_factory=dict, compare=False, repr=False)

    def recent(self, key: Hashable, seconds: float, compute: Callable[[], T]) -> T:
        """``compute()``, reused for ``seconds``: settings that change rarely (kill switches)
        are read once a second per worker, not once per case."""
        now = time.monotonic()
        hit = self.memo.get(key)
        if hit is not None and hit[0] > now:
            value: T = hit[1]
            return value
        value = compute()
        self.memo[key] = (now + seconds, value)
        return value

    def brand(self, slug: str | None) -> Brand | None:
        """The brand with this slug, or None."""
        return next((b for b in self.brands.brands if b.slug == slug), None)


class Node(Protocol):
    """A graph node: the state and the run's config in, a partial update out."""

    __name__: str

    def __call__(self, state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
        """Run the node."""
        ...


def node(fn: Node) -> Node:
    """Decorator for graph nodes: every log line inside carries the case's and email's ids (a
    node may run in another thread, so they are bound here rather than once per run)."""

    @functools.wraps(fn)
    def traced(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
        with structlog.contextvars.bound_contextvars(
            case_id=state.case_id, email_id=state.email_id, node=fn.__name__
        ):
            return fn(state, config)

    return traced


def runtime(config: RunnableConfig) -> tuple[Agent, Work]:
    """The agent and the leased row of this run."""
    configurable: dict[str, Any] = config.get("configurable") or {}
    return configurable["agent"], configurable["work"]


def write_trail(session: Session, case_id: int, lines: list[TrailLine]) -> None:
    """Lines the nodes before kept for this write (reads need no transaction of their own)."""
    for line in lines:
        add_event(session, case_id, line.kind, line.summary)


def set_case(session: Session, case_id: int | None, **values: Any) -> None:
    """Change the case row in one UPDATE (no read first), in the caller's transaction."""
    session.execute(
        update(Case)
        .where(Case.id == case_id)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )


def add_event(
    session: Session,
    case_id: int,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    actor: str = "agent",
) -> None:
    """One line of the case's trail (``tidings cases show``), in the caller's transaction."""
    session.add(
        CaseEvent(case_id=case_id, kind=kind, summary=summary, data=data or {}, actor=actor)
    )
