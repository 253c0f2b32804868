"""classify: the email becomes a case (one per email) with its category, confidence and fields.

The classifier runs in a read-only session, outside any write transaction (it may call the LLM);
the case is written in a short fenced one. A replay finds the case and classifies nothing again.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tidings.agent.facts import EmailFacts, facts
from tidings.agent.runtime import Agent, add_event, node, runtime
from tidings.agent.state import CaseRun
from tidings.classifiers.types import Classification, ClassifyContext
from tidings.store.models import Case


def classify_context(agent: Agent, slug: str | None) -> ClassifyContext:
    """The brand's order-id patterns and thresholds; every brand's patterns when unknown."""
    brand = agent.brand(slug)
    if brand is None:
        every = [p for b in agent.brands.brands for p in b.order_id_patterns]
        return ClassifyContext(order_id_patterns=every)
    return ClassifyContext(
        brand=brand.slug, order_id_patterns=brand.order_id_patterns, thresholds=brand.thresholds
    )


@node
def classify(state: CaseRun, config: RunnableConfig) -> dict[str, Any]:
    """Classify the email and open its case, or pick up the case a previous run opened."""
    agent, work = runtime(config)
    email = facts(config)
    slug, case = email.brand, None
    if email.case_id is not None:  # an earlier run opened it: keep its classification
        with work.read() as session:
            case = session.get(Case, email.case_id)
    if case is None:
        result = agent.classifier.classify(email.as_input(), classify_context(agent, slug))
        case = _open_case(work, email, result)
    return {
        "case_id": case.id,
        "brand": slug,
        "brand_id": case.brand_id,
        "category": case.category,
        "confidence": case.confidence,
        "fields": dict(case.fields),
        "language": case.language,
        "needs_review": case.needs_review,
    }


def _case_of(session: Session, email_id: int) -> Case | None:
    return session.scalar(select(Case).where(Case.email_id == email_id))


def _open_case(work: Any, email: EmailFacts, result: Classification) -> Case:
    try:
        with work.fenced() as session:
            case = Case(
                brand_id=email.brand_id,
                email_id=email.id,
                thread_id=f"email-{email.id}",
                category=result.label,
                confidence=result.confidence,
                alternatives=[[a.label, a.confidence] for a in result.alternatives],
                fields=result.fields.model_dump(mode="json", exclude_none=True),
                language=result.language or email.language,
                rationale=result.rationale,
                classifier=result.classifier,
                needs_review=result.needs_review,
            )
            session.add(case)
            session.flush()
            summary = (
                f"classified as {result.label} ({result.confidence:.2f}) by {result.classifier}"
            )
            add_event(
                session,
                case.id,
                "classify",
                summary + ("; unsure" if result.needs_review else ""),
                {"errors": result.errors, "llm_calls": result.usage.llm_calls},
            )
            return case
    except IntegrityError:  # another run opened it meanwhile (unique email_id): use that one
        with work.read() as session:
            existing = _case_of(session, email.id)
        if existing is None:
            raise
        return existing
