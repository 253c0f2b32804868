"""Run a classifier over a labelled dataset, one email at a time, timing each.

An exception from the classifier is a wrong answer with its error kept, never a skipped row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from tidings.classifiers.base import Classifier
from tidings.classifiers.types import ClassifyContext
from tidings.evals.dataset import LabelledEmail

ERROR_LABEL = "__error__"


class Outcome(BaseModel):
    """One email's result next to its truth."""

    id: str
    truth: str
    predicted: str
    confidence: float = 0.0
    needs_review: bool = True
    language: str | None = None
    latency_ms: float
    llm_calls: int = 0
    asks_llm: bool = Field(
        default=False,
        description="the LLM was asked, or would be were one configured (the local model unsure)",
    )
    sender_kind: str = "unknown"
    cost_usd: float = 0.0
    error: str | None = None
    fields_truth: dict[str, Any] = Field(default_factory=dict)
    fields_predicted: dict[str, Any] = Field(default_factory=dict)


def run(
    classifier: Classifier,
    records: Sequence[LabelledEmail],
    *,
    context: ClassifyContext | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Classify every record; never stops on a failure."""
    context = context or ClassifyContext()
    has_llm = getattr(classifier, "llm", None) is not None or classifier.name == "llm"
    outcomes = []
    for record in records:
        started = time.perf_counter()
        try:
            result = classifier.classify(record.as_input(), context)
            latency = (time.perf_counter() - started) * 1000
            outcome = Outcome(
                id=record.id,
                truth=record.label,
                predicted=ERROR_LABEL if result.abstained else result.label,
                confidence=result.confidence,
                needs_review=result.needs_review,
                language=record.language,
                latency_ms=latency,
                llm_calls=result.usage.llm_calls,
                asks_llm=result.usage.llm_calls > 0 or (not has_llm and result.needs_review),
                sender_kind=record.sender_kind,
                cost_usd=result.usage.cost_usd,
                error="; ".join(result.errors) or None,
                fields_truth=record.fields,
                fields_predicted=result.fields.model_dump(mode="json", exclude_defaults=True),
            )
        except Exception as exc:  # counted as wrong, with the reason, and the run goes on
            outcome = Outcome(
                id=record.id,
                truth=record.label,
                predicted=ERROR_LABEL,
                language=record.language,
                sender_kind=record.sender_kind,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=f"{type(exc).__name__}: {exc}",
                fields_truth=record.fields,
            )
        outcomes.append(outcome)
        if progress:
            progress(1)
    return outcomes
