"""Metrics of an eval run: accuracy, macro-F1, per label and language, confusion, coverage."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from tidings.classifiers.archiving import archives
from tidings.classifiers.taxonomy import OTHER
from tidings.classifiers.thresholds import Prediction, choose_thresholds, coverage_at
from tidings.config.settings import AgentSettings
from tidings.evals.runner import ERROR_LABEL, Outcome

SCORED_FIELDS = ("order_id", "tracking_number", "requested_date")


def _per_label(outcomes: Sequence[Outcome], labels: list[str]) -> dict[str, dict[str, float]]:
    truth = [o.truth for o in outcomes]
    predicted = [o.predicted for o in outcomes]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    return {
        label: {
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "f1": round(float(f), 4),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }


def _per_language(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for o in outcomes:
        groups[o.language or "unknown"].append(o.predicted == o.truth)
    return {
        lang: {"n": len(hits), "accuracy": round(sum(hits) / len(hits), 4)}
        for lang, hits in sorted(groups.items())
    }


def _confusion(outcomes: Sequence[Outcome], labels: list[str]) -> dict[str, Any]:
    columns = labels + ([ERROR_LABEL] if any(o.predicted == ERROR_LABEL for o in outcomes) else [])
    index = {label: i for i, label in enumerate(columns)}
    matrix = [[0] * len(columns) for _ in labels]
    for o in outcomes:
        if o.truth in index and o.predicted in index:
            matrix[index[o.truth]][index[o.predicted]] += 1
    return {"rows": labels, "columns": columns, "matrix": matrix}


def _coverage(outcomes: Sequence[Outcome], labels: list[str], target: float) -> dict[str, Any]:
    """Coverage at the classifier's own thresholds (what ships) and at thresholds chosen on this
    very data (an optimistic ceiling, reported for comparison)."""
    auto = [o for o in outcomes if not o.needs_review and o.predicted != ERROR_LABEL]
    right = sum(o.predicted == o.truth for o in auto)
    predictions = [
        Prediction(predicted=o.predicted, confidence=o.confidence, truth=o.truth) for o in outcomes
    ]
    oracle_thresholds = choose_thresholds(predictions, labels, target=target)
    oracle = coverage_at(predictions, oracle_thresholds, target=target)
    return {
        "target_precision": target,
        "coverage": round(len(auto) / len(outcomes), 4) if outcomes else 0.0,
        "precision": round(right / len(auto), 4) if auto else None,
        "thresholds": "the classifier's own (chosen at training time); see the model metadata",
        "oracle": {
            "coverage": round(oracle.coverage, 4),
            "precision": round(oracle.precision, 4) if oracle.precision is not None else None,
            "thresholds": {k: round(v, 4) for k, v in oracle_thresholds.items()},
        },
        "curve": _curve(outcomes),
    }


def _curve(outcomes: Sequence[Outcome], points: int = 50) -> list[dict[str, float]]:
    """Precision against coverage when the most confident share is auto-handled."""
    ordered = sorted(outcomes, key=lambda o: -o.confidence)
    hits = np.cumsum([o.predicted == o.truth for o in ordered])
    curve = []
    for k in np.unique(np.linspace(1, len(ordered), num=min(points, len(ordered)), dtype=int)):
        curve.append(
            {"coverage": round(k / len(ordered), 4), "precision": round(hits[k - 1] / k, 4)}
        )
    return curve


def _fields(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """Per field: how often the extracted value equals the labelled one, where one is labelled."""
    scores: dict[str, dict[str, float]] = {}
    for name in SCORED_FIELDS:
        pairs = [
            (o.fields_truth[name], o.fields_predicted.get(name))
            for o in outcomes
            if isinstance(o.fields_truth.get(name), str)
        ]
        if pairs:
            correct = sum(_same_value(t, p) for t, p in pairs)
            scores[name] = {"n": len(pairs), "accuracy": round(correct / len(pairs), 4)}
    return scores


def _same_value(truth: str, predicted: object) -> bool:
    """Equal ignoring case, spaces and a leading "#": "#58702" is order 58702, and "7754 3321
    9904" the tracking number 775433219904."""

    def norm(value: str) -> str:
        return "".join(value.split()).lower().lstrip("#")

    return predicted is not None and norm(str(predicted)) == norm(truth)


def _silently_archived(
    outcomes: Sequence[Outcome], customer_min: float, others_min: float
) -> dict[str, Any]:
    """Requests (truth is not ``other``) the shipped policy would archive unseen."""
    lost = [
        o
        for o in outcomes
        if o.truth != OTHER
        and archives(
            o.predicted,
            o.confidence,
            needs_review=o.needs_review,
            sender_kind=o.sender_kind,
            customer_min_confidence=customer_min,
            other_min_confidence=others_min,
        )
    ]
    return {
        "count": len(lost),
        "records": [
            {"id": o.id, "truth": o.truth, "confidence": round(o.confidence, 3)} for o in lost
        ],
        "policy": f"other, not for review, at >= {customer_min} (customers), {others_min} (others)",
    }


def summarise(
    outcomes: Sequence[Outcome],
    *,
    labels: list[str],
    target_precision: float = 0.98,
    customer_archive_min: float = AgentSettings().archive_min_confidence,
    others_archive_min: float = AgentSettings().archive_min_confidence_others,
) -> dict[str, Any]:
    """The whole report (JSON-ready)."""
    if not outcomes:
        raise ValueError("no outcomes to summarise: the dataset was empty")
    truth_labels = [label for label in labels if any(o.truth == label for o in outcomes)]
    latencies = [o.latency_ms for o in outcomes]
    errors = [o for o in outcomes if o.error]
    return {
        "n": len(outcomes),
        "accuracy": round(float(np.mean([o.predicted == o.truth for o in outcomes])), 4),
        "macro_f1": round(
            float(
                f1_score(
                    [o.truth for o in outcomes],
                    [o.predicted for o in outcomes],
                    labels=truth_labels,
                    average="macro",
                    zero_division=0,
                )
            ),
            4,
        ),
        "per_label": _per_label(outcomes, truth_labels),
        "per_language": _per_language(outcomes),
        "confusion": _confusion(outcomes, truth_labels),
        "coverage_at_precision": _coverage(outcomes, truth_labels, target_precision),
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)), 3),
            "p95": round(float(np.percentile(latencies, 95)), 3),
            "mean": round(float(np.mean(latencies)), 3),
        },
        "silently_archived": _silently_archived(outcomes, customer_archive_min, others_archive_min),
        "llm_calls": sum(o.llm_calls for o in outcomes),
        # Per email, the LLM asked, or that would be asked were one configured (local unsure).
        "llm_calls_per_email": round(sum(o.asks_llm for o in outcomes) / len(outcomes), 4),
        "cost_usd": round(sum(o.cost_usd for o in outcomes), 6),
        "cost_usd_per_email": round(sum(o.cost_usd for o in outcomes) / len(outcomes), 8),
        "errors": {
            "count": len(errors),
            "by_kind": dict(Counter((o.error or "").split(":")[0] for o in errors).most_common(10)),
            "examples": [{"id": o.id, "error": o.error} for o in errors[:10]],
        },
        "fields": _fields(outcomes),
        "mistakes": [
            {
                "id": o.id,
                "truth": o.truth,
                "predicted": o.predicted,
                "confidence": round(o.confidence, 3),
            }
            for o in outcomes
            if o.predicted != o.truth
        ][:200],
    }
