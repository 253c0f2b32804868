"""The local classifier: a linear model shipped in the package. No network, no API key.

The model file is plain arrays (``.npz``, read with ``allow_pickle=False``) and JSON metadata, so
loading one runs no code and needs no scikit-learn: a worker is ready in a fraction of a second.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from tidings.classifiers.base import register
from tidings.classifiers.extract import extract_fields
from tidings.classifiers.fast import Scorer, Weights
from tidings.classifiers.text import model_text
from tidings.classifiers.thresholds import NEVER
from tidings.classifiers.types import Alternative, Classification, ClassifyContext, EmailInput
from tidings.config.settings import Settings
from tidings.errors import ClassificationError, ConfigError

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUNDLED_MODEL = ARTIFACTS / "local.npz"
TOP_ALTERNATIVES = 3


class Scoring(Protocol):
    """What the classifier needs of a model: probabilities per label, one text or a batch."""

    labels: list[str]

    def probabilities(self, text: str) -> np.ndarray: ...

    def probabilities_many(self, texts: Sequence[str]) -> np.ndarray: ...


class LocalModel(BaseModel):
    """A model's scorer with its labels, thresholds and provenance."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    scorer: Any  # Scoring; Any because pydantic cannot validate a Protocol
    weights: Any = None  # Weights, when the model can be saved
    version: str
    labels: list[str]
    thresholds: dict[str, float]
    trained_at: datetime
    training_rows: int
    training_counts: dict[str, int]
    config: dict[str, Any]
    out_of_fold: dict[str, float | None]

    def metadata(self) -> dict[str, Any]:
        """Everything but the arrays, for the file's header and the JSON beside it."""
        return self.model_dump(mode="json", exclude={"scorer", "weights"})


def save_model(model: LocalModel, path: Path) -> None:
    """Write the model (``.npz``) and a readable ``.json`` of its metadata beside it."""
    if not isinstance(model.weights, Weights):
        raise ConfigError("this model has no weights to save")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.weights.save(path, model.metadata())
    path.with_suffix(".json").write_text(
        json.dumps(model.metadata(), indent=2, sort_keys=True), encoding="utf-8"
    )


def model_from_weights(weights: Weights, metadata: dict[str, Any]) -> LocalModel:
    """A ready model from saved weights and their metadata."""
    return LocalModel.model_validate({**metadata, "scorer": Scorer(weights), "weights": weights})


@cache
def load_model(path: Path = BUNDLED_MODEL) -> LocalModel:
    """Load (once per process) a model written by ``save_model``."""
    if not path.is_file():
        raise ConfigError(f"no local model at {path}: run `tidings train` to build one")
    try:
        weights, metadata = Weights.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path} is not a Tidings model: {exc}") from exc
    return model_from_weights(weights, metadata)


class LocalClassifier:
    """Scores every category with the local model; flags what is below its threshold."""

    name = "local"

    def __init__(self, model_path: Path | None = None, model: LocalModel | None = None) -> None:
        self.model = model or load_model(model_path or BUNDLED_MODEL)

    def use(self, model: LocalModel) -> None:
        """Serve another model from now on (a promotion). Each classification reads
        ``self.model`` once, so one running in another thread uses the old model or the new one,
        never half of each."""
        self.model = model

    @property
    def scorer(self) -> Scoring:
        """The served model's scorer."""
        scorer: Scoring = self.model.scorer
        return scorer

    @property
    def tag(self) -> str:
        """name@version, stored on cases."""
        return f"local@{self.model.version}"

    def threshold(
        self, label: str, context: ClassifyContext | None = None, model: LocalModel | None = None
    ) -> float:
        """Auto-action threshold of a category: the model's, raised by the brand's if higher."""
        brand = context.thresholds.get(label, 0.0) if context else 0.0
        return max((model or self.model).thresholds.get(label, NEVER), brand)

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """Classify one email."""
        model = self.model
        try:
            row = model.scorer.probabilities(model_text(email))
        except Exception as exc:  # a broken model file must not stop the pipeline
            raise ClassificationError(f"local model failed: {exc}") from exc
        return self._result(model, email, row, context)

    def classify_many(
        self, emails: Sequence[EmailInput], context: ClassifyContext
    ) -> list[Classification]:
        """Classify a batch (evals, backlogs): one matrix product scores all of it."""
        model = self.model
        try:
            probabilities = model.scorer.probabilities_many([model_text(e) for e in emails])
        except Exception as exc:  # a broken model file must not stop the pipeline
            raise ClassificationError(f"local model failed: {exc}") from exc
        return [
            self._result(model, email, row, context)
            for email, row in zip(emails, probabilities, strict=True)
        ]

    def _result(
        self, model: LocalModel, email: EmailInput, row: np.ndarray, context: ClassifyContext
    ) -> Classification:
        order = np.argsort(-row)
        labels = model.labels
        label, confidence = labels[order[0]], float(row[order[0]])
        return Classification(
            label=label,
            confidence=confidence,
            alternatives=[
                Alternative(label=labels[i], confidence=float(row[i]))
                for i in order[1 : 1 + TOP_ALTERNATIVES]
            ],
            language=email.language,
            rationale=f"local model: {label} at {confidence:.2f}",
            fields=extract_fields(email, context, label=label),
            classifier=f"local@{model.version}",
            needs_review=confidence < self.threshold(label, context, model),
        )


@register("local")
def local_classifier(settings: Settings, *, model_path: Path | None = None) -> LocalClassifier:
    """The local model alone (``model_path`` overrides the shipped one)."""
    return LocalClassifier(model_path=model_path)
