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
from itertools import repeat
from typing import Any

import numpy as np

WORD_CACHE = 200_000  # distinct words remembered per vectorizer (a few tens of MB at most)
_NO_COLUMNS = np.zeros(0, dtype=np.int64)
_NO_VALUES = np.zeros(0, dtype=np.float64)


class _Block:
    """One fitted TfidfVectorizer: analyzer, vocabulary, idf, and its column offset."""

    def __init__(self, vectorizer: Any, offset: int) -> None:
        self.analyze: Callable[[str], list[str]] = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf: np.ndarray = vectorizer.idf_.astype(np.float64)
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.offset = offset
        if vectorizer.norm != "l2" or not vectorizer.use_idf:
            raise ValueError("FastScorer supports l2-normalised tf-idf only")
        # char_wb n-grams never cross a word boundary, so a word's known columns are the same
        # in every email: cache them per word instead of cutting n-grams from every text.
        self.per_word = vectorizer.analyzer == "char_wb"
        if self.per_word:
            self.preprocess: Callable[[str], str] = vectorizer.build_preprocessor()
            self.word_ngrams: Callable[[str], list[str]] = vectorizer._char_wb_ngrams
        self.words: dict[str, np.ndarray] = {}

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        columns, tf = self._columns_per_word(text) if self.per_word else self._columns(text)
        if columns.size == 0:
            return _NO_COLUMNS, _NO_VALUES
        values = ((1.0 + np.log(tf)) if self.sublinear else tf) * self.idf[columns]
        return columns + self.offset, values / np.sqrt(values @ values)

    def _columns(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Known columns and their counts: count the n-grams (C), look each up once (C)."""
        counts = Counter(self.analyze(text))
        n = len(counts)
        columns = np.fromiter(map(self.vocabulary.get, counts, repeat(-1)), np.int64, count=n)
        tf = np.fromiter(counts.values(), np.float64, count=n)
        known = columns >= 0
        return columns[known], tf[known]

    def _columns_per_word(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [self._word_columns(word) for word in self.preprocess(text).split()]
        if not parts:
            return _NO_COLUMNS, _NO_VALUES
        columns, tf = np.unique(np.concatenate(parts), return_counts=True)
        return columns, tf.astype(np.float64)

    def _word_columns(self, word: str) -> np.ndarray:
        found = self.words.get(word)
        if found is None:
            grams = self.word_ngrams(word)
            found = np.fromiter(
                (j for g in grams if (j := self.vocabulary.get(g)) is not None), np.int64
            )
            if len(self.words) < WORD_CACHE:
                self.words[word] = found
        return found


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
        parts = [block.features(text) for block in self.blocks]
        columns = np.concatenate([c for c, _ in parts])
        values = np.concatenate([v for _, v in parts])
        scores = self.intercept + (self.coef[:, columns] @ values if columns.size else 0.0)
        if scores.shape[0] == 1:  # binary model: sklearn's one column is the positive class
            positive = 1.0 / (1.0 + math.exp(-float(scores[0])))
            return np.array([1.0 - positive, positive])
        scores = scores - scores.max()
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum())
