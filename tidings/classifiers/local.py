"""The local classifier: a scikit-learn model shipped in the package. No network, no API key.

The model file is a pickle (joblib). Pickles run code when loaded, so Tidings only loads the model
it ships or one an administrator points it at; never a file from an email or an upload.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from pydantic import BaseModel, ConfigDict

from tidings.classifiers.base import register
from tidings.classifiers.extract import extract_fields
from tidings.classifiers.fast import FastScorer
from tidings.classifiers.text import model_text
from tidings.classifiers.thresholds import NEVER
from tidings.classifiers.types import Alternative, Classification, ClassifyContext, EmailInput
from tidings.config.settings import Settings
from tidings.errors import ClassificationError, ConfigError

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUNDLED_MODEL = ARTIFACTS / "local.joblib"
TOP_ALTERNATIVES = 3


class LocalModel(BaseModel):
    """A fitted pipeline with its labels, thresholds and provenance."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipeline: Any
    version: str
    labels: list[str]
    thresholds: dict[str, float]
    trained_at: datetime
    training_rows: int
    training_counts: dict[str, int]
    config: dict[str, Any]
    out_of_fold: dict[str, float | None]

    def metadata(self) -> dict[str, Any]:
        """Everything but the pipeline, for the JSON file beside the model."""
        return self.model_dump(mode="json", exclude={"pipeline"})


def save_model(model: LocalModel, path: Path) -> None:
    """Write the model and a readable ``.json`` of its metadata beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.model_dump(), path, compress=3)
    path.with_suffix(".json").write_text(json.dumps(model.metadata(), indent=2, sort_keys=True))


@cache
def load_model(path: Path = BUNDLED_MODEL) -> LocalModel:
    """Load (once per process) a model written by ``save_model``."""
    if not path.is_file():
        raise ConfigError(f"no local model at {path}: run `tidings train` to build one")
    return LocalModel.model_validate(joblib.load(path))


def _fast_scorer(model: LocalModel) -> FastScorer | None:
    """The fast path for a fitted TF-IDF + linear pipeline; None for anything else (a stub)."""
    try:
        return FastScorer(model.pipeline)
    except (AttributeError, TypeError, ValueError, IndexError):
        return None


class LocalClassifier:
    """Scores every category with the local model; flags what is below its threshold."""

    name = "local"

    def __init__(self, model_path: Path | None = None, model: LocalModel | None = None) -> None:
        self.model = model or load_model(model_path or BUNDLED_MODEL)
        self._fast = _fast_scorer(self.model)

    @property
    def tag(self) -> str:
        """name@version, stored on cases."""
        return f"local@{self.model.version}"

    def threshold(self, label: str, context: ClassifyContext | None = None) -> float:
        """Auto-action threshold of a category: the model's, raised by the brand's if higher."""
        brand = context.thresholds.get(label, 0.0) if context else 0.0
        return max(self.model.thresholds.get(label, NEVER), brand)

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        """Classify one email (the fast path when the model allows it)."""
        if self._fast is None:
            return self.classify_many([email], context)[0]
        try:
            row = self._fast.probabilities(model_text(email))
        except Exception as exc:  # a broken model file must not stop the pipeline
            raise ClassificationError(f"local model failed: {exc}") from exc
        return self._result(email, row, context)

    def classify_many(
        self, emails: Sequence[EmailInput], context: ClassifyContext
    ) -> list[Classification]:
        """Classify a batch (evals, backlogs): the fast path per email, which beats sklearn's
        vectorised pass once words are cached; sklearn's for a model without one."""
        if self._fast is not None:
            return [self.classify(email, context) for email in emails]
        try:
            probabilities = self.model.pipeline.predict_proba([model_text(e) for e in emails])
        except Exception as exc:  # a broken model file must not stop the pipeline
            raise ClassificationError(f"local model failed: {exc}") from exc
        return [
            self._result(email, row, context)
            for email, row in zip(emails, probabilities, strict=True)
        ]

    def _result(
        self, email: EmailInput, row: np.ndarray, context: ClassifyContext
    ) -> Classification:
        order = np.argsort(-row)
        labels = self.model.labels
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
            classifier=self.tag,
            needs_review=confidence < self.threshold(label, context),
        )


@register("local")
def local_classifier(settings: Settings, *, model_path: Path | None = None) -> LocalClassifier:
    """The local model alone (``model_path`` overrides the shipped one)."""
    return LocalClassifier(model_path=model_path)
