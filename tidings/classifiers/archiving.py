"""When an email is closed as "no exception" (archived) without a person seeing it.

Archiving is an action like any other, and the costliest kind of mistake: a request read as
``other`` is never answered. One rule, used by the agent's ``decide`` node and by the evals (whose
``silently_archived`` counts the requests it would have lost):
- only a prediction of ``other`` the classifier is sure of (not flagged for review);
- from a customer, only at ``customer_min_confidence`` or more
  (``TIDINGS_AGENT__ARCHIVE_MIN_CONFIDENCE``): a customer's short "ok" and their "kab aayega?"
  look alike to a model.
"""

from __future__ import annotations

from tidings.classifiers.taxonomy import OTHER


def archives(
    label: str | None,
    confidence: float,
    *,
    needs_review: bool,
    sender_kind: str,
    customer_min_confidence: float,
) -> bool:
    """Whether this classification closes the email without a person."""
    if label != OTHER or needs_review:
        return False
    return sender_kind != "customer" or confidence >= customer_min_confidence
