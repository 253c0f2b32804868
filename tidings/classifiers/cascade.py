"""The cascade: the local model decides what it is sure of; the LLM gets the rest.

Rules, in order:
1. Local at or above its category's threshold: local decides, no LLM call.
2. Local unsure and no LLM configured: local label, marked for review.
3. The LLM fails (timeout, refusal, malformed answer, budget): local label, for review, error kept.
4. The LLM agrees with the local label: that label, with the local model's calibrated confidence.
   It may skip review only if the LLM is at least ``agree_min`` sure, the category may be automatic
   at all (its threshold is not "never"), and the local confidence meets the brand's own minimum.
5. The LLM disagrees: the LLM's label (it reads context the local model cannot), always for
   review: a disagreement never triggers an auto-action.
Fields: order and tracking ids come from the patterns first, and an LLM id is taken only when it
is written in the email (an LLM must not invent or be talked into an id); other fields come from
the LLM where it found them, else from the patterns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tidings.classifiers.base import register
from tidings.classifiers.llm import LLMClassifier, llm_classifier
from tidings.classifiers.local import LocalClassifier
from tidings.classifiers.thresholds import NEVER
from tidings.classifiers.types import (
    Alternative,
    Classification,
    ClassifyContext,
    EmailInput,
    ExtractedFields,
)
from tidings.config.settings import Settings
from tidings.errors import ClassificationError

IDENTIFIERS = ("order_id", "tracking_number")


def merge_fields(
    patterns: ExtractedFields, llm: ExtractedFields, email: EmailInput
) -> ExtractedFields:
    """Identifiers from the patterns (or the LLM's if written in the email); the rest from the
    LLM, else the patterns."""
    text = f"{email.subject}\n{email.text}"
    merged = {}
    for name in ExtractedFields.model_fields:
        mine, theirs = getattr(patterns, name), getattr(llm, name)
        if name in IDENTIFIERS:
            merged[name] = mine or (theirs if theirs and theirs in text else None)
        else:
            merged[name] = theirs or mine
    return ExtractedFields.model_validate(merged)


class CascadeClassifier:
    """Local first; an LLM, when configured, for what the local model is unsure of."""

    name = "cascade"

    def __init__(
        self, local: LocalClassifier, llm: LLMClassifier | None = None, *, agree_min: float = 0.8
    ) -> None:
        self.local, self.llm, self.agree_min = local, llm, agree_min

    @property
    def tag(self) -> str:
        """What decides, for reports."""
        return f"cascade({self.local.tag}+{self.llm.tag if self.llm else 'no-llm'})"

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
        return self._combine(first, second, email, context)

    def _may_skip_review(
        self, local: Classification, llm: Classification, context: ClassifyContext
    ) -> bool:
        label = local.label
        return (
            llm.confidence >= self.agree_min
            and self.local.model.thresholds.get(label, NEVER) < NEVER
            and local.confidence >= context.thresholds.get(label, 0.0)
        )

    def _combine(
        self,
        local: Classification,
        llm: Classification,
        email: EmailInput,
        context: ClassifyContext,
    ) -> Classification:
        agree = llm.label == local.label
        local_view = Alternative(label=local.label, confidence=local.confidence)
        return llm.model_copy(
            update={
                "confidence": local.confidence if agree else llm.confidence,
                "alternatives": local.alternatives if agree else [local_view, *local.alternatives],
                "fields": merge_fields(local.fields, llm.fields, email),
                "classifier": f"cascade({local.classifier}+{llm.classifier})",
                "needs_review": not (agree and self._may_skip_review(local, llm, context)),
                "rationale": (
                    f"{'agrees' if agree else 'disagrees'} with local "
                    f"(LLM {llm.confidence:.2f}); {llm.rationale}"
                ),
                "errors": [*local.errors, *llm.errors],
            }
        )


@register("cascade")
def cascade_classifier(
    settings: Settings,
    *,
    model_path: Path | None = None,
    examples: Sequence[tuple[EmailInput, dict[str, Any]]] = (),
) -> CascadeClassifier:
    """The deployed default: local first, the LLM (if configured) for the unsure rest."""
    llm = llm_classifier(settings, examples=examples) if settings.llm.enabled else None
    return CascadeClassifier(LocalClassifier(model_path=model_path), llm)
