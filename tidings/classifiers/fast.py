"""A fast path for scoring one email with the fitted pipeline.

sklearn's ``predict_proba`` spends most of a single-email call on input validation and dispatch,
not on the features. ``FastScorer`` reads the fitted vectorizers and the logistic regression and
computes the same probabilities directly: n-gram lookup, sublinear tf times idf, l2 norm per
vectorizer, then a softmax over the gathered coefficient columns. A test holds it equal to
``predict_proba``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np


class _Block:
    """One fitted TfidfVectorizer: analyzer, vocabulary, idf, and its column offset."""

    def __init__(self, vectorizer: Any, offset: int) -> None:
        self.analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf: np.ndarray = vectorizer.idf_
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.offset = offset
        if vectorizer.norm != "l2" or not vectorizer.use_idf:
            raise ValueError("FastScorer supports l2-normalised tf-idf only")

    def features(self, text: str) -> tuple[list[int], list[float]]:
        counts = Counter(
            i for token in self.analyze(text) if (i := self.vocabulary.get(token)) is not None
        )
        if not counts:
            return [], []
        columns = list(counts)
        values = [
            ((1.0 + math.log(n)) if self.sublinear else float(n)) * float(self.idf[j])
            for j, n in counts.items()
        ]
        norm = math.sqrt(sum(v * v for v in values))
        return [self.offset + j for j in columns], [v / norm for v in values]


class FastScorer:
    """Probabilities of one text, equal to ``pipeline.predict_proba([text])[0]``."""

    def __init__(self, pipeline: Any) -> None:
        union, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        self.blocks: list[_Block] = []
        offset = 0
        for _name, vectorizer in union.transformer_list:
            self.blocks.append(_Block(vectorizer, offset))
            offset += len(vectorizer.vocabulary_)
        # Column-major so gathering a few feature columns is one contiguous read each.
        self.coef = np.asfortranarray(model.coef_, dtype=np.float64)
        self.intercept = model.intercept_.astype(np.float64)

    def probabilities(self, text: str) -> np.ndarray:
        """Softmax of the linear scores."""
        columns: list[int] = []
        values: list[float] = []
        for block in self.blocks:
            c, v = block.features(text)
            columns += c
            values += v
        scores = self.intercept + (self.coef[:, columns] @ np.asarray(values) if columns else 0.0)
        if scores.shape[0] == 1:  # binary model: sklearn's one column is the positive class
            positive = 1.0 / (1.0 + math.exp(-float(scores[0])))
            return np.array([1.0 - positive, positive])
        scores = scores - scores.max()
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum())
