"""Scoring with the local model's weights: plain arrays, no scikit-learn at run time.

Training fits a scikit-learn pipeline (word and character TF-IDF into a logistic regression).
``Weights.from_pipeline`` keeps only what scoring needs: each vectorizer's settings, vocabulary and
idf, and the regression's coefficients. ``Scorer`` recomputes sklearn's probabilities from them:
n-gram lookup, sublinear tf times idf, l2 norm per vectorizer, a softmax over the linear scores.
A test holds it equal to ``predict_proba``.

Why not keep the pipeline: unpickling it (and importing scikit-learn) took about 1.2 s of every
worker's start, a pickle runs code when loaded, and sklearn's per-call validation dominated a
single email's cost. The arrays load in a few tens of milliseconds with ``allow_pickle=False``.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

WORD_CACHE = 200_000  # distinct words remembered per vectorizer (a few tens of MB at most)
FORMAT = 1  # bump when the array layout changes; load refuses what it does not know
_NO_COLUMNS = np.zeros(0, dtype=np.int64)
_NO_VALUES = np.zeros(0, dtype=np.float64)
_SEPARATOR = "\x00"  # between vocabulary terms: never inside one (control characters are dropped)


class VectorizerSpec(BaseModel):
    """The settings of one fitted TfidfVectorizer that scoring depends on."""

    analyzer: Literal["word", "char_wb"]
    ngram_range: tuple[int, int]
    lowercase: bool
    token_pattern: str | None
    sublinear_tf: bool


SUPPORTED = {
    "norm": "l2",
    "use_idf": True,
    "binary": False,
    "strip_accents": None,
    "stop_words": None,
    "preprocessor": None,
    "tokenizer": None,
}


@dataclass
class Weights:
    """Everything scoring reads, as arrays."""

    specs: list[VectorizerSpec]
    terms: list[list[str]]  # per vectorizer, in column order
    idf: list[np.ndarray]
    coef: np.ndarray  # classes x features
    intercept: np.ndarray
    labels: list[str]

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> Weights:
        """Read a fitted ``Pipeline([FeatureUnion([...tfidf...]), LogisticRegression])``."""
        union, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        specs, terms, idf = [], [], []
        for _name, vectorizer in union.transformer_list:
            params = vectorizer.get_params()
            unsupported = {k: params[k] for k, v in SUPPORTED.items() if params[k] != v}
            if unsupported or params["analyzer"] not in ("word", "char_wb"):
                raise ValueError(f"the scorer does not support these vectorizer settings: {params}")
            specs.append(VectorizerSpec.model_validate(params))
            ordered = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
            terms.append([term for term, _ in ordered])
            idf.append(vectorizer.idf_.astype(np.float64))
        return cls(
            specs=specs,
            terms=terms,
            idf=idf,
            coef=np.asarray(model.coef_, dtype=np.float32),
            intercept=np.asarray(model.intercept_, dtype=np.float64),
            labels=[str(label) for label in model.classes_],
        )

    def to_pipeline(self) -> Any:
        """The equivalent fitted scikit-learn pipeline (benchmarks and parity tests compare
        against it; nothing at run time needs it)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        parts = []
        for i, (spec, terms, idf) in enumerate(zip(self.specs, self.terms, self.idf, strict=True)):
            vectorizer = TfidfVectorizer(
                **spec.model_dump(exclude={"token_pattern"}),
                **({"token_pattern": spec.token_pattern} if spec.token_pattern else {}),
                vocabulary={term: j for j, term in enumerate(terms)},
                dtype=np.float32,
            )
            vectorizer.fit([""])  # fixes the vocabulary; the idf is ours, set next
            vectorizer.idf_ = idf
            parts.append((f"v{i}", vectorizer))
        model = LogisticRegression()
        model.coef_, model.intercept_ = self.coef, self.intercept
        model.classes_ = np.asarray(self.labels)
        return Pipeline([("features", FeatureUnion(parts)), ("model", model)])

    def save(self, path: Path, metadata: dict[str, Any]) -> None:
        """One uncompressed ``.npz``: loading is a read, not a decompression."""
        path.write_bytes(self.to_bytes(metadata))

    def to_bytes(self, metadata: dict[str, Any]) -> bytes:
        """The ``.npz`` file's bytes (the database stores model versions this way)."""
        arrays: dict[str, np.ndarray] = {
            "coef": self.coef,
            "intercept": self.intercept,
            "meta": _utf8(
                json.dumps(
                    {
                        "format": FORMAT,
                        "labels": self.labels,
                        "specs": [s.model_dump() for s in self.specs],
                        "model": metadata,
                    }
                )
            ),
        }
        for i, (terms, idf) in enumerate(zip(self.terms, self.idf, strict=True)):
            if any(_SEPARATOR in term for term in terms):
                raise ValueError("a vocabulary term contains NUL")
            arrays[f"terms{i}"] = _utf8(_SEPARATOR.join(terms))
            arrays[f"idf{i}"] = idf
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def load(cls, source: Path | bytes) -> tuple[Weights, dict[str, Any]]:
        """The weights and the metadata saved with them (a file, or its bytes). No pickle:
        loading runs no code."""
        with np.load(
            io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False
        ) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError(
                    f"model format {meta.get('format')!r}; this Tidings reads {FORMAT}"
                )
            specs = [VectorizerSpec.model_validate(s) for s in meta["specs"]]
            weights = cls(
                specs=specs,
                terms=[
                    data[f"terms{i}"].tobytes().decode("utf-8").split(_SEPARATOR)
                    for i in range(len(specs))
                ],
                idf=[data[f"idf{i}"] for i in range(len(specs))],
                coef=data["coef"],
                intercept=data["intercept"],
                labels=list(meta["labels"]),
            )
        return weights, meta["model"]


def _utf8(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


class _Block:
    """One vectorizer: its analyzer, vocabulary, idf, and its column offset."""

    def __init__(self, spec: VectorizerSpec, terms: list[str], idf: np.ndarray, offset: int):
        self.spec = spec
        self.vocabulary: dict[str, int] = dict(zip(terms, range(len(terms)), strict=True))
        self.idf = idf
        self.offset = offset
        self.min_n, self.max_n = spec.ngram_range
        self.token = re.compile(spec.token_pattern or r"(?u)\b\w\w+\b")
        # char_wb n-grams never cross a word boundary, so a word's known columns are the same
        # in every email: cache them per word instead of cutting n-grams from every text.
        self.words: dict[str, np.ndarray] = {}

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Columns and l2-normalised tf-idf values of one text."""
        if self.spec.lowercase:
            text = text.lower()
        if self.spec.analyzer == "char_wb":
            columns, tf = self._columns_per_word(text)
        else:
            columns, tf = self._columns(self._word_ngrams(self.token.findall(text)))
        if columns.size == 0:
            return _NO_COLUMNS, _NO_VALUES
        values = ((1.0 + np.log(tf)) if self.spec.sublinear_tf else tf) * self.idf[columns]
        return columns + self.offset, values / np.sqrt(values @ values)

    def _word_ngrams(self, tokens: list[str]) -> list[str]:
        """sklearn's word n-grams: the tokens (if min_n is 1), then 2-grams... joined by a space."""
        grams = list(tokens) if self.min_n == 1 else []
        for n in range(max(self.min_n, 2), min(self.max_n, len(tokens)) + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    def _columns(self, grams: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Known columns and their counts: count the n-grams, look each up once."""
        counts = Counter(grams)
        n = len(counts)
        columns = np.fromiter(map(self.vocabulary.get, counts, repeat(-1)), np.int64, count=n)
        tf = np.fromiter(counts.values(), np.float64, count=n)
        known = columns >= 0
        return columns[known], tf[known]

    def _columns_per_word(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [self._word_columns(word) for word in text.split()]  # as sklearn's char_wb
        if not parts:
            return _NO_COLUMNS, _NO_VALUES
        columns, tf = np.unique(np.concatenate(parts), return_counts=True)
        return columns, tf.astype(np.float64)

    def _word_columns(self, word: str) -> np.ndarray:
        found = self.words.get(word)
        if found is None:
            found = np.fromiter(
                (
                    j
                    for g in self._char_wb_ngrams(word)
                    if (j := self.vocabulary.get(g)) is not None
                ),
                np.int64,
            )
            if len(self.words) < WORD_CACHE:
                self.words[word] = found
        return found

    def _char_wb_ngrams(self, word: str) -> list[str]:
        """sklearn's char_wb n-grams of one word, padded with a space each side."""
        padded = f" {word} "
        grams = []
        for n in range(self.min_n, self.max_n + 1):
            if len(padded) <= n:  # shorter than n: the padded word once, and no longer n
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
        return grams


class Scorer:
    """Probabilities of texts, equal to the fitted pipeline's ``predict_proba``."""

    def __init__(self, weights: Weights) -> None:
        self.labels = weights.labels
        self.blocks: list[_Block] = []
        offset = 0
        for spec, terms, idf in zip(weights.specs, weights.terms, weights.idf, strict=True):
            self.blocks.append(_Block(spec, terms, idf, offset))
            offset += len(terms)
        self.features = offset
        # Column-major so gathering a few feature columns is one contiguous read each.
        self.coef = np.asfortranarray(weights.coef, dtype=np.float64)
        self.intercept = weights.intercept

    def probabilities(self, text: str) -> np.ndarray:
        """One text: gather the columns it uses, then a softmax."""
        columns, values = self._row(text)
        scores = self.intercept + (self.coef[:, columns] @ values if columns.size else 0.0)
        return np.asarray(self._softmax(scores[np.newaxis, :])[0])

    def probabilities_many(self, texts: Sequence[str]) -> np.ndarray:
        """A batch: one sparse matrix of its features times the coefficients, in one product."""
        from scipy.sparse import csr_matrix  # only batches need it; workers start faster

        rows = [self._row(text) for text in texts]
        lengths = np.fromiter((c.size for c, _ in rows), np.int64, count=len(rows))
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        matrix = csr_matrix(
            (
                np.concatenate([v for _, v in rows]) if rows else _NO_VALUES,
                np.concatenate([c for c, _ in rows]) if rows else _NO_COLUMNS,
                indptr,
            ),
            shape=(len(rows), self.features),
        )
        scores = np.asarray(matrix @ self.coef.T) + self.intercept
        return self._softmax(scores)

    def _row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [block.features(text) for block in self.blocks]
        return np.concatenate([c for c, _ in parts]), np.concatenate([v for _, v in parts])

    @staticmethod
    def _softmax(scores: np.ndarray) -> np.ndarray:
        if scores.shape[1] == 1:  # binary model: sklearn's one column is the positive class
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))
