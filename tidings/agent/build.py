"""Assemble the pipeline a worker runs from the settings: parse, the agent, resume, and the
checkpoint pruning that keeps LangGraph's tables small. A context manager: the checkpointer holds
a database connection for as long as the worker lives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from tidings.agent.checkpoint import FencedSaver, serializer
from tidings.agent.draft import Drafter, LLMDrafter, TemplateDrafter
from tidings.agent.graph import Graph, build_graph
from tidings.agent.runtime import Agent
from tidings.agent.steps import agent_step, resume_step
from tidings.classifiers.base import Classifier
from tidings.classifiers.factory import classifier_for
from tidings.config.brands import BrandsFile
from tidings.config.settings import Settings
from tidings.pipeline.steps import Step, parse_step
from tidings.resolvers.base import resolvers
from tidings.resolvers.order_api import OrderAPI
from tidings.resolvers.order_store import BuiltinOrderStore
from tidings.store.base import utcnow
from tidings.store.checkpoints import open_checkpointer, prune
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CLOSED_CASE_STATES
from tidings.store.models import Case


def order_api_for(settings: Settings, sessions: SessionFactory) -> OrderAPI:
    """The configured order API: the built-in store, or the retailer's REST API."""
    if settings.orders.kind == "rest":
        # Imported here: a shop on the built-in store never loads the HTTP client.
        from tidings.resolvers.rest_api import RestOrderAPI

        return RestOrderAPI(settings.orders)
    return BuiltinOrderStore(sessions)


def drafter_for(settings: Settings) -> Drafter:
    """The LLM drafter when an LLM is configured, else the template drafter."""
    return LLMDrafter(settings.llm) if settings.llm.enabled else TemplateDrafter()


def build_agent(
    settings: Settings,
    brands: BrandsFile,
    sessions: SessionFactory,
    *,
    classifier: Classifier | None = None,
    orders: OrderAPI | None = None,
    drafter: Drafter | None = None,
) -> Agent:
    """The agent's parts; tests and the pipeline eval pass their own where they need to."""
    return Agent(
        brands=brands,
        classifier=classifier or classifier_for(settings),
        orders=orders or order_api_for(settings, sessions),
        resolvers=resolvers(),
        drafter=drafter or drafter_for(settings),
        settings=settings.agent,
        kill_switch=settings.kill_switch,
    )


def prune_closed(url: str, sessions: SessionFactory, older_than: timedelta) -> int:
    """Delete the checkpoints of cases closed longer ago than ``older_than`` (LangGraph keeps
    them forever otherwise); their thread id is cleared, so a re-label starts a fresh run."""
    cutoff = utcnow() - older_than
    with sessions() as session:
        threads = [
            t
            for t in session.scalars(
                select(Case.thread_id).where(
                    Case.state.in_(list(CLOSED_CASE_STATES)),
                    Case.closed_at < cutoff,
                    Case.thread_id.is_not(None),
                )
            )
            if t
        ]
    if not threads:
        return 0
    with open_checkpointer(url) as saver:
        pruned = prune(saver, threads)
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.thread_id.in_(threads)).values(thread_id=None))
    return pruned


@dataclass
class Pipeline:
    """What a worker runs, and the pieces tests and tools look into."""

    agent: Agent
    graph: Graph
    steps: list[Step]
    saver: FencedSaver


@contextmanager
def pipeline(
    settings: Settings,
    brands: BrandsFile,
    sessions: SessionFactory,
    *,
    agent: Agent | None = None,
) -> Iterator[Pipeline]:
    """parse -> agent -> (review) -> resume, with the checkpointer open."""
    with open_checkpointer(settings.database_url, serde=serializer()) as saver:
        fenced = FencedSaver(saver)
        graph = build_graph(fenced)
        agent = agent or build_agent(settings, brands, sessions)
        steps = [
            parse_step(brands, settings.inbox),
            agent_step(agent, graph),
            resume_step(agent, graph),
        ]
        yield Pipeline(agent=agent, graph=graph, steps=steps, saver=fenced)
