"""Per-category confidence thresholds that hold a target precision, and the coverage they give.

Auto-actions run only above the threshold of the predicted category. A threshold is the lowest
confidence at which the predictions of that category, from there up, are still at least
``target`` precise on held-out data. A category that never gets there gets 1.01: never automatic.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

NEVER = 1.01


class Prediction(BaseModel):
    """One scored prediction against its truth."""

    predicted: str
    confidence: float
    truth: str


class Coverage(BaseModel):
    """How much may be auto-handled at a set of thresholds, and how precise that share is."""

    target_precision: float
    thresholds: dict[str, float]
    coverage: float
    precision: float | None
    n: int


def choose_thresholds(
    predictions: Sequence[Prediction], labels: Sequence[str], *, target: float, min_support: int = 5
) -> dict[str, float]:
    """The lowest threshold per label whose predictions at or above it reach ``target``."""
    thresholds: dict[str, float] = {}
    for label in labels:
        scored = sorted(
            ((p.confidence, p.truth == label) for p in predictions if p.predicted == label),
            reverse=True,
        )
        thresholds[label] = _lowest_precise_cut(scored, target, min_support)
    return thresholds


def _lowest_precise_cut(scored: list[tuple[float, bool]], target: float, min_support: int) -> float:
    best = NEVER
    correct = 0
    for taken, (confidence, right) in enumerate(scored, start=1):
        correct += right
        # Only cut between distinct confidences: ties go in or out together.
        next_differs = taken == len(scored) or scored[taken][0] < confidence
        if next_differs and taken >= min_support and correct / taken >= target:
            best = confidence
    return best


def coverage_at(
    predictions: Sequence[Prediction], thresholds: dict[str, float], *, target: float
) -> Coverage:
    """Share of emails at or above their predicted label's threshold, and their precision."""
    auto = [p for p in predictions if p.confidence >= thresholds.get(p.predicted, NEVER)]
    right = sum(p.predicted == p.truth for p in auto)
    return Coverage(
        target_precision=target,
        thresholds=thresholds,
        coverage=len(auto) / len(predictions) if predictions else 0.0,
        precision=right / len(auto) if auto else None,
        n=len(predictions),
    )
