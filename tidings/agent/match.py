"""match: find the order (and the customer) the email is about, and whether the sender is them.

In order: a case this email replies to (our notice's Message-ID in In-Reply-To/References), the
order id it names, the tracking number it names, a purchase order a supplier names (every open
order waiting for its SKUs), then a customer's only open order. A customer with several open
orders and no id written is not guessed at: the case goes to a person.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.runnables import RunnableConfig
from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.agent.facts import EmailFacts, facts
from tidings.agent.runtime import Agent, add_event, node, runtime, set_case, write_trail
from tidings.agent.state import CaseRun
from tidings.resolvers.contacts import is_customer
from tidings.resolvers.order_api import OPEN, OrderView
from tidings.store.enums import CaseState
from tidings.store.models import Case, Notification, Order

# Our email notices carry Message-IDs like <3f9a...e1.1234@kapas.example>: 1234 is the
# notification, which names its case and order.
OUR_MESSAGE_ID = re.compile(r"^[0-9a-f]{24}\.(\d+)@")
PURCHASE_ORDER = re.compile(
    r"\bP\.?O\.?\s*(?:no\.?|number|#)?\s*[:#-]?\s*([A-Z0-9][A-Z0-9/-]{2,30}[A-Z0-9])", re.I
)
SKU = re.compile(r"\b[A-Z]{2,5}-[A-Z]{2,8}(?:-[A-Z0-9]{1,8}){0,3}\b")


@node
def match(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Find the order, the orders a supplier or carrier means, and verify the sender."""
    agent, work = runtime(config)
    email = facts(config)
    slug = state.brand
    parent = _parent_case(work, email, state.case_id)
    order = _order(agent, state.fields, email, slug, parent)
    text = f"{email.subject}\n{email.text}"
    affected, skus = _supplier_orders(agent, text, slug, email.sender_kind)
    verified = None
    if order is not None and email.sender_kind in ("customer", "unknown"):
        claimed = is_customer(order.customer, email=email.sender, phone=email.phone)
        verified = claimed and not email.disowned  # a forged From is not the customer
    category = _threaded_category(state.category, parent)
    threaded = category != state.category
    with work.fenced() as session:
        values: dict[str, Any] = {
            "order_number": order.number if order else None,
            "order_id": _local_order_id(session, order),
            "parent_case_id": parent.id if parent else None,
            "sender_verified": verified,
        }
        if threaded and category:  # the thread says what it is, not the model's reading
            values.update(category=category, needs_review=False)
        set_case(session, state.case_id, **values)
        if parent is not None and parent.state is CaseState.ESCALATED:
            set_case(session, parent.id, draft_stale=True)  # a newer email on its thread
        write_trail(session, state.case_id or 0, state.trail)
        add_event(session, state.case_id or 0, "match", _summary(order, affected, parent, verified))
    return {
        "category": category,
        "needs_review": False if threaded else state.needs_review,
        "order_number": order.number if order else None,
        "order": order,
        "trail": [],
        "affected_orders": affected,
        "skus": skus,
        "sender_verified": verified,
    }


def _parent_case(work: Any, email: EmailFacts, case_id: int | None) -> Case | None:
    """The case whose notice this email replies to (our notices' Message-IDs name it; a chat
    message answers our latest message to that number)."""
    ours = [
        int(found.group(1))
        for message_id in filter(None, [email.in_reply_to, *email.references])
        if (found := OUR_MESSAGE_ID.match(str(message_id)))
    ]
    if email.answers_notification is not None:
        ours.append(email.answers_notification)
    if not ours:
        return None
    with work.read() as session:
        for notification_id in ours:
            notification = session.get(Notification, notification_id)
            if notification is not None and notification.case_id not in (None, case_id):
                parent: Case | None = session.get(Case, notification.case_id)
                return parent
    return None


def _threaded_category(category: str | None, parent: Case | None) -> str | None:
    """A reply to an address question is an address change on that case, whatever words the
    customer used ("yes, that's right" included)."""
    asked_address = parent is not None and parent.category in (
        "address_undeliverable",
        "address_change",
    )
    if asked_address and parent is not None and parent.state is CaseState.AWAITING_CUSTOMER:
        return "address_change"
    return category


def _order(
    agent: Agent, fields: dict[str, Any], email: EmailFacts, slug: str | None, parent: Case | None
) -> OrderView | None:
    orders = agent.orders
    if parent is not None and parent.order_number:
        return orders.get_order(parent.order_number)
    written = str(fields.get("order_id") or "").strip().lstrip("#").upper()
    if written:
        found = orders.get_order(written)
        if found is not None and (slug is None or found.brand == slug):
            return found
    tracking = "".join(str(fields.get("tracking_number") or "").split())
    if tracking:
        found = orders.find_order_by_tracking(tracking)
        if found is not None and (slug is None or found.brand == slug):
            return found
    if email.sender_kind == "customer" and (email.sender or email.phone) and not written:
        found_orders = (
            orders.find_orders(email=email.sender)
            if email.sender
            else orders.find_orders(phone=email.phone)
        )
        mine = [o for o in found_orders if o.status in OPEN and (slug is None or o.brand == slug)]
        return mine[0] if len(mine) == 1 else None
    return None


def _supplier_orders(
    agent: Agent, text: str, slug: str | None, sender_kind: str | None
) -> tuple[list[str], list[str]]:
    """Open orders waiting for what a supplier or warehouse writes about, and those SKUs."""
    if sender_kind != "supplier" or slug is None:
        return [], []
    skus: list[str] = []
    for match in PURCHASE_ORDER.finditer(text):
        po = agent.orders.get_purchase_order(match.group(1))
        if po is not None and po.brand == slug:
            skus.extend(po.skus)
    if not skus:
        skus = sorted(set(SKU.findall(text)))
    waiting = agent.orders.find_open_orders(brand=slug, skus=skus) if skus else []
    return [o.number for o in waiting], skus


def _local_order_id(session: Session, order: OrderView | None) -> int | None:
    """The built-in store's row for the order, when it holds it."""
    if order is None:
        return None
    return session.scalar(select(Order.id).where(Order.number == order.number))


def _summary(
    order: OrderView | None, affected: list[str], parent: Case | None, verified: bool | None
) -> str:
    parts = [f"order {order.number} ({order.status.value})" if order else "no order matched"]
    if affected:
        parts.append(f"{len(affected)} open order(s) waiting for the stock")
    if parent is not None:
        parts.append(f"replies to case {parent.id}")
    if verified is not None:
        parts.append("sender is the customer" if verified else "sender is NOT the order's customer")
    return "; ".join(parts)
