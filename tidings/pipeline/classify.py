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
from tidings.pipeline.steps import Step
from tidings.store.enums import CaseState, EmailState
from tidings.store.models import BrandRow, Case, InboundEmail

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
        state=CaseState.IN_REVIEW if result.needs_review else CaseState.OPEN,
    )


def classify_step(brands: BrandsFile, classifier: Classifier) -> Step:
    """The step, with the brands' order-id patterns as context."""
    by_slug = {brand.slug: brand.order_id_patterns for brand in brands.brands}
    every = [p for patterns in by_slug.values() for p in patterns]

    def handle(session: Session, email: InboundEmail) -> EmailState:
        slug = session.scalar(select(BrandRow.slug).where(BrandRow.id == email.brand_id))
        context = ClassifyContext(brand=slug, order_id_patterns=by_slug.get(slug or "", every))
        result = classifier.classify(email_input(email), context)
        existing = session.scalar(select(Case).where(Case.email_id == email.id))
        if existing is None:
            session.add(_case(email, result))
        if result.label == OTHER and not result.needs_review:
            return EmailState.ARCHIVED
        return EmailState.CLASSIFIED

    return Step(
        name="classify",
        model=InboundEmail,
        consumes=(EmailState.PARSED,),
        dead_state=EmailState.QUARANTINED,
        handle=handle,
    )
