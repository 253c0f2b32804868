"""``tidings train``: fit the local model on labelled emails and choose its thresholds.

The model is word and character TF-IDF into a logistic regression (calibrated probabilities by
construction). Thresholds come from 5-fold out-of-fold predictions on the project's own emails, so
they are chosen on data the fitted fold never saw and never on the dev split.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from tidings.classifiers.fast import Scorer, Weights
from tidings.classifiers.local import LocalModel
from tidings.classifiers.sampling import keeps_public_row
from tidings.classifiers.text import model_text
from tidings.classifiers.thresholds import Prediction, choose_thresholds, coverage_at
from tidings.evals.dataset import LabelledEmail


class TrainingConfig(BaseModel):
    """Knobs of a training run; stored with the model so it can be reproduced."""

    c: float = Field(default=50.0, gt=0, description="inverse regularisation strength")
    own_weight: float = Field(default=3.0, gt=0, description="weight of non-public emails")
    public_fraction: float = Field(default=0.3, ge=0, le=1, description="share of public rows kept")
    public_sources: list[str] = Field(default_factory=lambda: ["bitext"])
    word_features: int = 80_000
    char_features: int = 150_000
    target_precision: float = Field(default=0.98, gt=0, le=1)
    folds: int = Field(default=5, ge=2)
    seed: int = 13


def _tfidf(
    analyzer: str, ngrams: tuple[int, int], max_features: int, **extra: Any
) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=analyzer,
        ngram_range=ngrams,
        min_df=2,
        sublinear_tf=True,
        max_features=max_features,
        dtype=np.float32,
        **extra,
    )


def _pipeline(config: TrainingConfig) -> Pipeline:
    words = _tfidf(
        "word",
        (1, 2),
        config.word_features,
        token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - a regex, not a password
    )
    chars = _tfidf("char_wb", (2, 5), config.char_features)
    model = LogisticRegression(C=config.c, max_iter=3000, class_weight="balanced")
    return Pipeline(
        [("features", FeatureUnion([("words", words), ("chars", chars)])), ("model", model)]
    )


def fit_pipeline(
    texts: Sequence[str], labels: np.ndarray, weights: np.ndarray, config: TrainingConfig
) -> Pipeline:
    """The scikit-learn pipeline fitted on all rows; the model keeps only its weights."""
    pipeline = _pipeline(config)
    pipeline.fit(texts, labels, model__sample_weight=weights)
    return pipeline


def select_training_rows(
    records: Sequence[LabelledEmail], config: TrainingConfig
) -> tuple[list[LabelledEmail], np.ndarray]:
    """Rows to fit on, with weights: all of our own emails, a stable sample of public ones."""
    rows, weights = [], []
    for record in records:
        public = record.source in config.public_sources
        if public and not keeps_public_row(record, config.public_fraction):
            continue
        rows.append(record)
        weights.append(1.0 if public else config.own_weight)
    return rows, np.asarray(weights)


def train(records: Sequence[LabelledEmail], config: TrainingConfig, *, version: str) -> LocalModel:
    """Fit the model on ``records`` and pick per-category thresholds from out-of-fold scores."""
    rows, weights = select_training_rows(records, config)
    texts = [model_text(r.as_input()) for r in rows]
    labels = np.asarray([r.label for r in rows])
    random.seed(config.seed)
    folds = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
    oof = cross_val_predict(
        _pipeline(config),
        texts,
        labels,
        cv=folds,
        method="predict_proba",
        params={"model__sample_weight": weights},
    )
    fitted = Weights.from_pipeline(fit_pipeline(texts, labels, weights, config))
    classes = fitted.labels
    own = [i for i, r in enumerate(rows) if r.source not in config.public_sources]
    predictions = [
        Prediction(predicted=classes[int(oof[i].argmax())], confidence=float(oof[i].max()), truth=r)
        for i, r in ((i, labels[i]) for i in own)
    ]
    thresholds = choose_thresholds(predictions, classes, target=config.target_precision)
    held_out = coverage_at(predictions, thresholds, target=config.target_precision)
    return LocalModel(
        scorer=Scorer(fitted),
        weights=fitted,
        version=version,
        labels=classes,
        thresholds=thresholds,
        trained_at=datetime.now(UTC),
        training_rows=len(rows),
        training_counts=dict(Counter(labels.tolist())),
        config=config.model_dump(),
        out_of_fold={
            "accuracy": float(np.mean([p.predicted == p.truth for p in predictions])),
            "coverage": held_out.coverage,
            "precision_of_covered": held_out.precision,
        },
    )
