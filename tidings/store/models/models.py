"""Local classifier versions, side by side in the database, and which one is promoted.

Stored in the database (not on a worker's disk) so every worker process, on any machine, serves
the same promoted model, and a promotion or rollback reaches all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from tidings.store.base import Base, BigIntId, IdMixin, utcnow


class ClassifierModel(IdMixin, Base):
    """One trained model: its arrays (the ``.npz`` bytes) and metadata."""

    __tablename__ = "classifier_models"

    version: Mapped[str] = mapped_column(String(60), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    # Deferred: listing versions must not read megabytes of weights.
    weights: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelPromotion(IdMixin, Base):
    """A promotion (or rollback): the latest row names the model every worker serves. ``model_id``
    NULL means the model shipped in the package."""

    __tablename__ = "model_promotions"

    model_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("classifier_models.id", ondelete="RESTRICT")
    )
    version: Mapped[str] = mapped_column(String(60))
    promoted_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40), doc="promote | rollback | forced")
    evidence: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="the eval comparison that allowed it"
    )
    promoted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
