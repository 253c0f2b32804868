"""The cascade: the local model decides what it is sure of; the LLM gets the rest.

Rules, in order:
1. Local at or above its category's threshold: local decides, no LLM call.
2. Local unsure and no LLM configured: local label, marked for review.
3. The LLM fails (timeout, refusal, malformed answer, budget): local label, for review, error kept.
4. The LLM agrees with the local label: that label; automatic only if the LLM's own confidence is
   at least ``agree_min`` (two different models agreeing is strong evidence).
5. The LLM disagrees: the LLM's label (it reads context the local model cannot), always for
   review: a disagreement never triggers an auto-action.
Fields: the LLM's where it found them, the patterns' otherwise.
"""

from __future__ import annotations

from tidings.classifiers.base import register
from tidings.classifiers.llm import LLMClassifier
from tidings.classifiers.local import LocalClassifier
from tidings.classifiers.types import (
    Alternative,
    Classification,
    ClassifyContext,
    EmailInput,
    ExtractedFields,
)
from tidings.errors import ClassificationError


def merge_fields(primary: ExtractedFields, fallback: ExtractedFields) -> ExtractedFields:
    """Each field from ``primary`` when it has one, else from ``fallback``."""
    merged = {
        name: getattr(primary, name) or getattr(fallback, name)
        for name in ExtractedFields.model_fields
    }
    return ExtractedFields.model_validate(merged)


@register("cascade")
class CascadeClassifier:
    """Local first; an LLM, when configured, for what the local model is unsure of."""

    name = "cascade"

    def __init__(
        self, local: LocalClassifier, llm: LLMClassifier | None = None, *, agree_min: float = 0.8
    ) -> None:
        self.local, self.llm, self.agree_min = local, llm, agree_min

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """Classify by the rules above."""
        first = self.local.classify(email, context)
        if not first.needs_review:
            return first
        if self.llm is None:
            return first.model_copy(
                update={"rationale": f"{first.rationale}; below threshold and no LLM configured"}
            )
        try:
            second = self.llm.try_classify(email, context)
        except ClassificationError as exc:
            return first.model_copy(update={"errors": [*first.errors, f"llm: {exc}"]})
        return self._combine(first, second)

    def _combine(self, local: Classification, llm: Classification) -> Classification:
        agree = llm.label == local.label
        local_view = Alternative(label=local.label, confidence=local.confidence)
        return llm.model_copy(
            update={
                "confidence": max(local.confidence, llm.confidence) if agree else llm.confidence,
                "alternatives": [] if agree else [local_view, *local.alternatives],
                "fields": merge_fields(llm.fields, local.fields),
                "classifier": f"cascade({local.classifier}+{llm.classifier})",
                "needs_review": not agree or llm.confidence < self.agree_min,
                "rationale": f"{'agrees' if agree else 'disagrees'} with local; {llm.rationale}",
                "errors": [*local.errors, *llm.errors],
            }
        )
