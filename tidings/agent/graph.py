"""The agent's graph: wiring only. Each node is a module of its own; routers return node names.

classify -> match -> decide -+-> resolve -+-> notify -> END
                             |            '-> escalate
                             +-> escalate -> review -+-> notify | close | decide | escalate
                             '-> close -> END
"""

from __future__ import annotations

from typing import Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from tidings.agent.classify import classify
from tidings.agent.close import close
from tidings.agent.decide import decide
from tidings.agent.escalate import escalate
from tidings.agent.match import match
from tidings.agent.notify import notify
from tidings.agent.resolve import resolve
from tidings.agent.review import review
from tidings.agent.state import CaseRun

Graph = CompiledStateGraph[CaseRun, None, CaseRun, CaseRun]


def after_decide(state: CaseRun) -> Literal["resolve", "escalate", "close"]:
    """Resolve, escalate, or close (archive) as decide said."""
    return state.route or "escalate"


def after_resolve(state: CaseRun) -> Literal["notify", "escalate"]:
    """A resolution is sent; a guard that stopped it goes to a person."""
    return "escalate" if state.route == "escalate" else "notify"


def after_review(state: CaseRun) -> Literal["notify", "close", "decide", "escalate"]:
    """What the person decided: send the reply, close, re-label, or reassign."""
    action = state.decision.action if state.decision else "reassign"
    if action in ("approve", "edit"):
        return "notify"
    if action == "relabel":
        return "decide"
    if action == "reassign":
        return "escalate"
    return "close"


def build_graph(checkpointer: BaseCheckpointSaver[str] | None) -> Graph:
    """The compiled graph; the agent's parts come with each run's config, not here."""
    graph = StateGraph(CaseRun)
    for node in (classify, match, decide, resolve, escalate, review, notify, close):
        graph.add_node(node.__name__, node)
    graph.add_edge(START, "classify")
    graph.add_edge("classify", "match")
    graph.add_edge("match", "decide")
    graph.add_conditional_edges("decide", after_decide)
    graph.add_conditional_edges("resolve", after_resolve)
    graph.add_edge("escalate", "review")
    graph.add_conditional_edges("review", after_review)
    graph.add_edge("notify", END)
    graph.add_edge("close", END)
    return graph.compile(checkpointer=checkpointer)
