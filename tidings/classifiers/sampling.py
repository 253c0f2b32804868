"""Which public rows a training run keeps: a stable choice per record id, so evals can skip
exactly the rows the shipped model saw."""

from __future__ import annotations

import hashlib

from tidings.evals.dataset import LabelledEmail


def keeps_public_row(record: LabelledEmail, fraction: float) -> bool:
    """Whether a public record is in the training sample (stable per record id)."""
    bucket = int(hashlib.sha256(record.id.encode()).hexdigest(), 16) % 1000
    return bucket < fraction * 1000
