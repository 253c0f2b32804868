"""parsed -> classified: run the classifier and open a case for the email.

One case per email (unique on ``cases.email_id``), so a replay cannot open two. Emails that are
no exception (``other``) are archived; the rest wait for the agent's resolve/escalate step, and
anything the classifier was unsure of goes to review.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tidings.classifiers.base import Classifier
from tidings.classifiers.taxonomy import OTHER
from tidings.classifiers.types import Classification, ClassifyContext, EmailInput
from tidings.config.brands import BrandsFile
from tidings.errors import StorageError
from tidings.pipeline.steps import Step
from tidings.store.brands import brand_slug
from tidings.store.enums import CaseState, EmailState
from tidings.store.models import Case, InboundEmail

SENDER_KINDS = {"customer", "carrier", "supplier", "unknown"}


def email_input(email: InboundEmail) -> EmailInput:
    """What the classifier reads, from the parsed form stored on the row."""
    parsed: dict[str, Any] = email.parsed or {}
    sent = parsed.get("date")
    kind = email.sender_kind if email.sender_kind in SENDER_KINDS else "unknown"
    return EmailInput(
        subject=parsed.get("subject") or email.subject or "",
        text=parsed.get("text") or "",
        sender=email.sender,
        sender_kind=kind,
        language=email.language,
        sent_on=datetime.fromisoformat(sent).date() if isinstance(sent, str) else None,
    )


def _case(email: InboundEmail, result: Classification) -> Case:
    return Case(
        brand_id=email.brand_id,
        email_id=email.id,
        category=result.label,
        confidence=result.confidence,
        alternatives=[[a.label, a.confidence] for a in result.alternatives],
        fields=result.fields.model_dump(mode="json", exclude_none=True),
        language=result.language,
        rationale=result.rationale,
        classifier=result.classifier,
        state=_case_state(result),
    )


def _case_state(result: Classification) -> CaseState:
    if result.needs_review:
        return CaseState.IN_REVIEW
    return CaseState.ARCHIVED if result.label == OTHER else CaseState.OPEN


def _email_state(case: Case) -> EmailState:
    """The email's next state follows from its case, so a replay cannot contradict it."""
    return EmailState.ARCHIVED if case.state is CaseState.ARCHIVED else EmailState.CLASSIFIED


def classify_step(brands: BrandsFile, classifier: Classifier) -> Step:
    """The step, with each brand's order-id patterns and thresholds as context."""
    by_slug = {brand.slug: brand for brand in brands.brands}
    every = [p for brand in brands.brands for p in brand.order_id_patterns]

    def context_for(session: Session, email: InboundEmail) -> ClassifyContext:
        brand = by_slug.get(brand_slug(session, email.brand_id) or "")
        if brand is None:
            return ClassifyContext(order_id_patterns=every)
        return ClassifyContext(
            brand=brand.slug, order_id_patterns=brand.order_id_patterns, thresholds=brand.thresholds
        )

    def prepare(session: Session, email: InboundEmail) -> Classification | None:
        """Classify outside the write transaction, unless a replay finds the case there."""
        if session.scalar(select(Case.id).where(Case.email_id == email.id)) is not None:
            return None
        return classifier.classify(email_input(email), context_for(session, email))

    def handle(session: Session, email: InboundEmail, result: Classification | None) -> EmailState:
        existing = session.scalar(select(Case).where(Case.email_id == email.id))
        if existing is not None:  # a replay: the case decided already, and costs nothing again
            return _email_state(existing)
        if result is None:  # the case vanished between prepare and handle: classify again
            raise StorageError("the email's case disappeared mid-step; retrying")
        case = _case(email, result)
        session.add(case)
        return _email_state(case)

    return Step(
        name="classify",
        model=InboundEmail,
        consumes=(EmailState.PARSED,),
        dead_state=EmailState.QUARANTINED,
        handle=handle,
        prepare=prepare,
    )
