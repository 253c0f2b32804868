"""notify: the case's messages go into the outbox in the same transaction as its final state.

One outbox row per notice, idempotent on (brand, order, event, episode): a replay of this node
enqueues nothing twice, and the dispatcher sends each row once. A notice about a problem a
carrier or supplier reported goes through the parcel's delay episode (proactive WISMO), whose
outreach policy may hold it back (the customer has an open case; the brand does not tell it).
An approved (or edited) draft goes out as the brand's ``case_reply`` to whoever wrote, by
email. A case that answered a question we asked (an address confirmation, delivery days)
closes that earlier case too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from langchain_core.runnables import RunnableConfig
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.agent.customers import customer_for, sender_customer
from tidings.agent.facts import facts
from tidings.agent.runtime import Agent, add_event, node, runtime, set_case, write_trail
from tidings.agent.state import CaseRun
from tidings.channels.outbox import enqueue
from tidings.channels.policy import recipient_for
from tidings.config.brands import BrandsFile
from tidings.logs import get_logger
from tidings.resolvers.base import Notice
from tidings.resolvers.notices import base_vars, current_shipment
from tidings.resolvers.order_api import OrderView, ShipmentView
from tidings.store.enums import CaseState, ChannelKind
from tidings.store.models import BrandRow, Case, Order
from tidings.wismo.episodes import Routed, route

log = get_logger(__name__)
CLOSED_BY_REPLY = {CaseState.AUTO_RESOLVED, CaseState.RESOLVED}


@node
def notify(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Enqueue the notices and close (or park) the case."""
    agent, work = runtime(config)
    email = facts(config)
    writer = Writer(email.sender, email.phone, email.medium)
    # Mail from a carrier or supplier makes us speak first; a customer's mail is answered.
    proactive = email.sender_kind in ("carrier", "supplier")
    notices = list(state.notices)
    closing = state.closing or CaseState.AUTO_RESOLVED
    resolution = state.resolution or "resolved"
    actor = "agent"
    orders = {
        n.order_number: _order(agent, state, n.order_number) for n in notices if n.order_number
    }
    decision = state.decision
    if decision is not None and decision.action in ("approve", "edit"):
        reply, order = _reply(agent, work, state, writer.channel)
        notices.append(reply)
        if order is not None:
            orders[order.number] = order
        closing, resolution, actor = (
            CaseState.RESOLVED,
            f"reply {decision.action}d and sent",
            decision.by,
        )
    case_id = state.case_id or 0
    queued = 0
    with work.fenced() as session:
        brand = session.get_one(BrandRow, state.brand_id)
        for item in notices:
            routed = _through_episode(agent, session, brand, item, case_id, email.sent_at)
            if routed.notice is None:
                add_event(session, case_id, "notify", f"not sent: {routed.reason}")
                continue
            order = orders.get(item.order_number or "")
            _enqueue(
                session,
                brand,
                case_id,
                state.language,
                routed.notice,
                order,
                writer,
                proactive,
                routed.episode_id,
            )
            queued += 1
        closed_at = None if closing is CaseState.AWAITING_CUSTOMER else agent.clock()
        set_case(
            session,
            case_id,
            state=closing,
            resolution=resolution,
            decision=None,
            closed_at=closed_at,
        )
        write_trail(session, case_id, state.trail)
        add_event(
            session,
            case_id,
            "notify",
            f"{closing.value}: {resolution}; {queued} message(s) queued",
            actor=actor,
        )
        if closing in CLOSED_BY_REPLY:
            _close_parent(session, agent, case_id)
    log.info("case ended", state=closing.value, messages=queued, category=state.category)
    return {"closing": closing, "resolution": resolution, "trail": [], "decision": None}


def _through_episode(
    agent: Agent,
    session: Session,
    brand: BrandRow,
    notice: Notice,
    case_id: int,
    reported_at: datetime | None,
) -> Routed:
    """A problem a carrier or supplier reported goes through the parcel's delay episode: one
    history and one message per problem, whoever reports it (tidings.wismo.episodes)."""
    config = agent.brand(brand.slug)
    if notice.problem is None or config is None:
        return Routed(notice)
    return route(
        session,
        brand=config,
        notice=notice,
        case_id=case_id,
        now=agent.clock(),
        reported_at=reported_at,
    )


def _order(agent: Agent, state: CaseRun, number: str) -> OrderView | None:
    """The matched order as the run has it (its customer does not change), else the API's."""
    if state.order is not None and state.order.number == number:
        return state.order
    return agent.orders.get_order(number)


def _reply(
    agent: Agent, work: Any, state: CaseRun, channel: ChannelKind
) -> tuple[Notice, OrderView | None]:
    """The approved (or edited) draft as the brand's case_reply, to whoever wrote, where they
    wrote (email, WhatsApp or SMS)."""
    assert state.decision is not None  # noqa: S101 - the caller checked
    with work.read() as session:
        case = session.get_one(Case, state.case_id)
        text = state.decision.reply if state.decision.action == "edit" else case.draft_reply
        language = case.language
    order = _order(agent, state, state.order_number) if state.order_number else None
    shipments = agent.orders.list_shipments(order.number) if order is not None else []
    variables = reply_variables(
        agent.brands, order, shipments, case_id=state.case_id or 0, text=text or ""
    )
    notice = Notice(
        event="case_reply",
        episode=f"decision-{state.decision.id}",
        order_number=order.number if order else None,
        variables=variables,
        channel=channel,
        language=language,
    )
    return notice, order


def reply_variables(
    brands: BrandsFile,
    order: OrderView | None,
    shipments: list[ShipmentView],
    *,
    case_id: int,
    text: str,
) -> dict[str, Any]:
    """The variables of a person's reply (``case_reply``): the order's sections when there is
    one; the web app's preview renders the same."""
    brand = next((b for b in brands.brands if order and b.slug == order.brand), None)
    if brand is not None:
        help_url = brand.help_url or f"mailto:{brand.senders.email.address}"
    else:
        help_url = f"mailto:{brands.brands[0].senders.email.address}"
    if order is not None:
        variables = base_vars(order, current_shipment(shipments), help_url)
    else:
        variables = {"customer": {"name": "-"}, "links": {"help": help_url}}
    variables["case"] = {"reference": f"CASE-{case_id}", "reply": text.strip()}
    return variables


def _enqueue(
    session: Session,
    brand: BrandRow,
    case_id: int,
    language: str | None,
    notice: Notice,
    order: OrderView | None,
    writer: Writer,
    proactive: bool,
    episode_id: int | None = None,
) -> None:
    """One outbox row: to the order's customer, or (a reply about no order) to the sender. An
    answer to a chat message goes back on WhatsApp or SMS, where the customer wrote."""
    recipient = None
    if order is not None:
        customer = customer_for(session, brand, order.customer)
    else:
        name, address = parseaddr(writer.address or "")
        customer = sender_customer(
            session,
            brand,
            address,
            name or None,
            language or "en",
            phone=writer.phone,
            medium=writer.channel,
        )
        notice.variables["customer"] = {"name": customer.name}
        recipient = recipient_for(customer, notice.channel or writer.channel)
    channel = notice.channel
    if channel is None and writer.chat and not proactive and customer.phone:
        channel = writer.channel
    local_order = (
        session.scalar(select(Order).where(Order.number == order.number)) if order else None
    )
    enqueue(
        session=session,
        brand=brand,
        event=notice.event,
        episode=notice.episode,
        variables=notice.variables,
        customer=customer,
        order=local_order,
        order_number=order.number if order else None,
        case_id=case_id,
        channel=channel,
        recipient=recipient,
        language=notice.language or customer.language,
        proactive=proactive and notice.event != "case_reply",
        wismo_episode_id=episode_id,
    )


@dataclass(frozen=True)
class Writer:
    """Who wrote the email or message the case answers, and on which medium."""

    address: str | None
    phone: str | None
    medium: str

    @property
    def chat(self) -> bool:
        """A WhatsApp or SMS message."""
        return self.medium != "email"

    @property
    def channel(self) -> ChannelKind:
        """Where an answer goes."""
        return ChannelKind(self.medium)


def _close_parent(session: Session, agent: Agent, case_id: int) -> None:
    """The earlier case that asked the customer is answered by this one."""
    parent_id = session.scalar(select(Case.parent_case_id).where(Case.id == case_id))
    parent = session.get(Case, parent_id) if parent_id is not None else None
    if parent is not None and parent.state is CaseState.AWAITING_CUSTOMER:
        parent.state, parent.closed_at = CaseState.AUTO_RESOLVED, agent.clock()
        parent.resolution = f"the customer answered in case {case_id}"
        add_event(session, parent.id, "close", parent.resolution)
