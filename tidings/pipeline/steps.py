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

from tidings.classifiers.base import Classifier
from tidings.config.brands import BrandsFile
from tidings.inbox.parse import parse_email
from tidings.store.enums import EmailState
from tidings.store.lease import RetryPolicy
from tidings.store.models import InboundEmail

Handler = Callable[[Session, Any], StrEnum]


@dataclass(frozen=True)
class Step:
    """One stage of the pipeline."""

    name: str
    model: type[Any]
    consumes: tuple[StrEnum, ...]
    dead_state: StrEnum
    handle: Handler = field(repr=False)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    batch: int = 20


def parse_step(brands: BrandsFile) -> Step:
    """received -> parsed: decode the raw email into a ``ParsedEmail`` stored on the row."""
    patterns = [p for brand in brands.brands for p in brand.order_id_patterns]

    def handle(session: Session, email: InboundEmail) -> EmailState:
        parsed = parse_email(email.raw, order_id_patterns=patterns)
        email.parsed = parsed.model_dump(mode="json")
        email.subject = parsed.subject or email.subject
        if parsed.sender:
            email.sender = parsed.sender.address
        return EmailState.PARSED

    return Step(
        name="parse",
        model=InboundEmail,
        consumes=(EmailState.RECEIVED,),
        dead_state=EmailState.QUARANTINED,
        handle=handle,
    )


def default_steps(brands: BrandsFile, classifier: Classifier | None = None) -> list[Step]:
    """The steps that exist so far, in pipeline order; without a classifier, parsing only."""
    # Imported here: the classify step's module builds on ``Step`` from this one.
    from tidings.pipeline.classify import classify_step

    steps = [parse_step(brands)]
    if classifier is not None:
        steps.append(classify_step(brands, classifier))
    return steps
