"""When an email is closed as "no exception" (archived) without a person seeing it.

Archiving is an action like any other, and the costliest kind of mistake: a request read as
``other`` is never answered. One rule, used by the agent's ``decide`` node and by the evals (whose
``silently_archived`` counts the requests it would have lost):
- only a prediction of ``other`` the classifier is sure of (not flagged for review);
- from a customer, only at ``customer_min_confidence`` or more
  (``TIDINGS_AGENT__ARCHIVE_MIN_CONFIDENCE``, 0.97): a customer's short "ok" and their "kab
  aayega?" look alike to a model;
- from anyone else (carriers, suppliers, unknown), only at ``other_min_confidence`` or more
  (``TIDINGS_AGENT__ARCHIVE_MIN_CONFIDENCE_OTHERS``, 0.75). Out of fold on the training set,
  business mail read as ``other`` at 0.75 or more was right 389 times in 392; between 0.6 and
  0.75, 43 in 47 (a carrier's pickup delay, a supplier's part shipment): too many to lose unseen.
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
    other_min_confidence: float = 0.75,
) -> bool:
    """Whether this classification closes the email without a person."""
    if label != OTHER or needs_review:
        return False
    floor = customer_min_confidence if sender_kind == "customer" else other_min_confidence
    return confidence >= floor
