"""A ``Step`` consumes rows in some states and moves each to a new state, in one transaction.

Steps register in a list the worker walks in order; later parts (the agent graph, the outbox
dispatcher) add their steps the same way as the built-in parse step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from tidings.config.brands import BrandsFile
from tidings.config.settings import InboxSettings
from tidings.inbox.chat import parse_chat
from tidings.inbox.parse import parse_email
from tidings.patterns import Pattern
from tidings.pipeline.work import Work
from tidings.store.enums import EmailState
from tidings.store.lease import RetryPolicy
from tidings.store.models import InboundEmail

Handler = Callable[[Session, Any, Any], StrEnum]
Prepare = Callable[[Session, Any], Any]
Run = Callable[[Work], StrEnum]


@dataclass(frozen=True)
class Step:
    """One stage of the pipeline, in one of two shapes.

    - ``prepare`` then ``handle``: slow work (an LLM call, a provider request) runs in
      ``prepare``, in a read-only session outside the write transaction, so SQLite's write lock is
      never held across the network; it returns what ``handle`` needs. ``handle`` applies that in
      one short transaction, which also moves the row on.
    - ``run``: a step that needs several transactions of its own (the agent graph) gets the
      leased row as ``Work`` and writes only through ``Work.fenced()``; the worker moves the row
      to the state ``run`` returns.
    """

    name: str
    model: type[Any]
    consumes: tuple[StrEnum, ...]
    dead_state: StrEnum
    handle: Handler | None = field(default=None, repr=False)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    batch: int = 20
    prepare: Prepare | None = field(default=None, repr=False)
    run: Run | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.handle is None) == (self.run is None):
            raise ValueError(f"step {self.name!r} needs either handle (with prepare) or run")


def parse_step(brands: BrandsFile, inbox: InboxSettings) -> Step:
    """received -> parsed: decode the raw email (or chat message) into a ``ParsedEmail`` stored
    on the row, and fill the row's sender, subject, language and sender kind. Unreadable mail
    raises ``InboxError`` and is quarantined with the reason."""
    from tidings.inbox.patterns import compile_patterns  # imported here: keeps edits local
    from tidings.inbox.sender import SenderLists
    from tidings.store.models import BrandRow

    by_brand = {b.slug: compile_patterns(b.order_id_patterns) for b in brands.brands}
    every_brand = tuple(p for patterns in by_brand.values() for p in patterns)
    tracking = compile_patterns(inbox.tracking_patterns)
    lists = SenderLists.build(
        carriers=inbox.carrier_domains,
        suppliers=inbox.supplier_domains,
        customers=inbox.customer_domains,
        own=[b.senders.email.address.rpartition("@")[2] for b in brands.brands],
    )
    slugs: dict[int, str] = {}

    def patterns_for(session: Session, brand_id: int | None) -> tuple[Pattern, ...]:
        # A row of a known brand is searched with that brand's patterns only.
        if brand_id is None:
            return every_brand
        if brand_id not in slugs:
            row = session.get(BrandRow, brand_id)
            slugs[brand_id] = row.slug if row else ""
        return by_brand.get(slugs[brand_id], every_brand)

    def handle(session: Session, email: InboundEmail, _prepared: None) -> EmailState:
        if email.medium != "email":  # a WhatsApp or SMS message: no MIME, a thread to find
            parsed = parse_chat(session, email.raw, email.brand_id)
            email.parsed = parsed.model_dump(mode="json")
            email.language, email.sender_kind = parsed.language, parsed.sender_kind
            return EmailState.PARSED
        parsed = parse_email(
            email.raw,
            order_id_patterns=patterns_for(session, email.brand_id),
            tracking_patterns=tracking,
            sender_lists=lists,
            max_bytes=inbox.max_email_bytes,
        )
        email.parsed = parsed.model_dump(mode="json")
        email.subject = parsed.subject or email.subject
        if parsed.sender:
            email.sender = parsed.sender.address
        email.language = parsed.language
        email.sender_kind = parsed.sender_kind
        return EmailState.PARSED

    return Step(
        name="parse",
        model=InboundEmail,
        consumes=(EmailState.RECEIVED,),
        dead_state=EmailState.QUARANTINED,
        handle=handle,
    )
