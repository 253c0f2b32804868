"""Local model versions side by side: add, list, promote, roll back, and serve the promoted one.

Versions live in the database (tidings/store/models/models.py) so every worker, on any machine,
serves the same model; the model shipped in the package is always there as the version named in
its metadata. The latest promotion names the model served; workers check it every minute and swap
without a restart. Promotion itself is gated by an eval comparison (tidings/evals/promotion.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from tidings.classifiers.base import Classifier
from tidings.classifiers.fast import Weights
from tidings.classifiers.local import LocalClassifier, LocalModel, load_model, model_from_weights
from tidings.errors import ConfigError
from tidings.logs import get_logger
from tidings.store.db import SessionFactory
from tidings.store.models import ClassifierModel, ModelPromotion

log = get_logger(__name__)


class ModelInfo(BaseModel):
    """One version, as `tidings model list` shows it."""

    version: str
    source: Literal["bundled", "database"]
    created_at: datetime | None
    created_by: str | None
    training_rows: int
    out_of_fold: dict[str, float | None]
    note: str | None = None
    serving: bool = False


def bundled_version() -> str:
    """The version of the model shipped in the package."""
    return load_model().version


def add_model(session: Session, model: LocalModel, *, by: str, note: str | None = None) -> None:
    """Store a trained model as a new version (not served until promoted)."""
    if not isinstance(model.weights, Weights):
        raise ConfigError("this model has no weights to store")
    if model.version == bundled_version() or session.scalar(
        select(ClassifierModel.id).where(ClassifierModel.version == model.version)
    ):
        raise ConfigError(f"model version {model.version} exists already: choose another --version")
    data = model.weights.to_bytes(model.metadata())
    session.add(
        ClassifierModel(
            version=model.version,
            sha256=hashlib.sha256(data).hexdigest(),
            weights=data,
            meta=model.metadata(),
            created_by=by,
            note=note,
        )
    )


def serving_version(session: Session) -> str:
    """The version workers serve: the latest promotion's, else the bundled model's."""
    latest = session.scalar(
        select(ModelPromotion.version).order_by(ModelPromotion.id.desc()).limit(1)
    )
    return latest or bundled_version()


def list_models(session: Session) -> list[ModelInfo]:
    """The bundled model, then stored versions, newest last."""
    serving = serving_version(session)
    bundled = load_model()
    models = [
        ModelInfo(
            version=bundled.version,
            source="bundled",
            created_at=bundled.trained_at,
            created_by=None,
            training_rows=bundled.training_rows,
            out_of_fold=bundled.out_of_fold,
            note="shipped in the package",
        )
    ]
    for row in session.scalars(select(ClassifierModel).order_by(ClassifierModel.id)):
        models.append(
            ModelInfo(
                version=row.version,
                source="database",
                created_at=row.created_at,
                created_by=row.created_by,
                training_rows=int(row.meta.get("training_rows", 0)),
                out_of_fold=row.meta.get("out_of_fold", {}),
                note=row.note,
            )
        )
    for info in models:
        info.serving = info.version == serving
    return models


def load_version(session: Session, version: str) -> LocalModel:
    """A version's model, ready to classify."""
    if version == bundled_version():
        return load_model()
    row = session.scalar(
        select(ClassifierModel)
        .options(undefer(ClassifierModel.weights))
        .where(ClassifierModel.version == version)
    )
    if row is None:
        known = ", ".join(m.version for m in list_models(session))
        raise ConfigError(f"no model version {version!r}; known: {known}")
    if hashlib.sha256(row.weights).hexdigest() != row.sha256:
        raise ConfigError(f"model {version} failed its checksum; retrain it")
    weights, metadata = Weights.load(row.weights)
    return model_from_weights(weights, metadata)


def record_promotion(
    session: Session, version: str, *, by: str, reason: str, evidence: dict[str, Any]
) -> None:
    """Make ``version`` the served model (it must exist)."""
    model_id = None
    if version != bundled_version():
        model_id = session.scalar(
            select(ClassifierModel.id).where(ClassifierModel.version == version)
        )
        if model_id is None:
            raise ConfigError(f"no model version {version!r}: `tidings model list` shows them")
    session.add(
        ModelPromotion(
            model_id=model_id, version=version, promoted_by=by, reason=reason, evidence=evidence
        )
    )


def rollback_target(session: Session) -> str:
    """The version served before the current one was promoted. Promotions stack up and a
    rollback pops one, so rolling back twice goes two steps back, not back and forth."""
    served = [bundled_version()]
    for version, reason in session.execute(
        select(ModelPromotion.version, ModelPromotion.reason).order_by(ModelPromotion.id)
    ):
        if reason == "rollback" and len(served) > 1:
            served.pop()
        else:
            served.append(version)
    if len(served) < 2:
        raise ConfigError("nothing to roll back to: no promotion is in force")
    return served[-2]


def local_part(classifier: Classifier) -> LocalClassifier | None:
    """The local model inside a classifier (itself, or a cascade's first stage)."""
    if isinstance(classifier, LocalClassifier):
        return classifier
    local = getattr(classifier, "local", None)
    return local if isinstance(local, LocalClassifier) else None


def follow_promotions(classifier: Classifier, sessions: SessionFactory) -> int:
    """Serve the promoted version if it changed (a worker's periodic job). Returns 1 on a swap."""
    local = local_part(classifier)
    if local is None:
        return 0
    with sessions() as session:
        wanted = serving_version(session)
        if wanted == local.model.version:
            return 0
        model = load_version(session, wanted)
    log.info("serving another local model", before=local.model.version, after=wanted)
    local.use(model)
    return 1
