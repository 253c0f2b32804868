"""The local classifier and the cascade: the shipped model, thresholds, and the cascade's rules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from tests.llm_server import Behaviour, LLMServer, answer, llm_server
from tidings.classifiers.base import create
from tidings.classifiers.cascade import CascadeClassifier
from tidings.classifiers.fast import Scorer, Weights
from tidings.classifiers.llm import LLMClassifier
from tidings.classifiers.local import LocalClassifier, LocalModel, load_model
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.classifiers.text import model_text
from tidings.classifiers.train import TrainingConfig, fit_pipeline, train
from tidings.classifiers.types import ClassifyContext, EmailInput
from tidings.config.settings import LLMSettings, Settings
from tidings.errors import ConfigError
from tidings.evals.dataset import load_dataset

ROOT = Path(__file__).resolve().parent.parent
CTX = ClassifyContext(order_id_patterns=[r"\bKAP-\d{6}\b"])


class FixedScorer:
    """Stands in for the model's scorer: every email gets the same probabilities."""

    def __init__(self, probabilities: dict[str, float]) -> None:
        self.labels = load_taxonomy().names
        self.row = np.array([probabilities.get(label, 0.0) for label in self.labels])

    def probabilities(self, text: str) -> Any:
        return self.row

    def probabilities_many(self, texts: Sequence[str]) -> Any:
        return np.tile(self.row, (len(texts), 1))


def fixed_local(label: str, confidence: float, threshold: float = 0.8) -> LocalClassifier:
    labels = load_taxonomy().names
    rest = (1 - confidence) / (len(labels) - 1)
    probabilities = {name: (confidence if name == label else rest) for name in labels}
    model = LocalModel(
        scorer=FixedScorer(probabilities),
        version="fixed",
        labels=labels,
        thresholds=dict.fromkeys(labels, threshold),
        trained_at=datetime.now(UTC),
        training_rows=0,
        training_counts={},
        config={},
        out_of_fold={},
    )
    return LocalClassifier(model=model)


def email(text: str, kind: str = "customer", subject: str = "", language: str = "en") -> EmailInput:
    return EmailInput(subject=subject, text=text, sender_kind=kind, language=language)  # type: ignore[arg-type]


class TestShippedModel:
    def test_loads_with_every_category_and_a_threshold_each(self) -> None:
        """The bundled model knows the whole taxonomy and has a threshold per category."""
        model = load_model()
        assert sorted(model.labels) == sorted(load_taxonomy().names)
        assert set(model.thresholds) == set(model.labels)

    @pytest.mark.parametrize(
        ("text", "kind", "language", "expected"),
        [
            (
                "Hi, where is my order KAP-240311? It was supposed to arrive on Friday and tracking shows nothing.",
                "customer",
                "en",
                "wismo",
            ),
            ("मेरा ऑर्डर KAP-240311 अभी तक नहीं आया, कब तक डिलीवर होगा?", "customer", "hi", "wismo"),
            (
                "Kak, paket saya datang dalam keadaan pecah, botol serumnya bocor semua.",
                "customer",
                "id",
                "damaged_item",
            ),
            (
                "Tolong batalkan pesanan saya SERI-41233, saya tersalah order.",
                "customer",
                "ms",
                "cancellation_request",
            ),
            (
                "Dear Partner, AWB 1490811234567: delivery attempted, consignee not available at address. Re-attempt scheduled tomorrow.",
                "carrier",
                "en",
                "failed_delivery_attempt",
            ),
            (
                "PO 5521: SKU KAP-SAR-201 is out of stock and backordered until 14 Dec. Other lines ship as planned.",
                "supplier",
                "en",
                "backorder_stockout",
            ),
        ],
    )
    def test_clear_cases(self, text: str, kind: str, language: str, expected: str) -> None:
        """Unambiguous emails in every language and sender get the right label."""
        result = LocalClassifier().classify(email(text, kind, language=language), CTX)
        assert result.label == expected, result
        assert result.classifier.startswith("local@")
        assert len(result.alternatives) == 3
        assert result.alternatives[0].confidence <= result.confidence

    def test_fields_come_with_the_label(self) -> None:
        """The order id is extracted by the brand's pattern."""
        result = LocalClassifier().classify(email("Where is KAP-240311?"), CTX)
        assert result.fields.order_id == "KAP-240311"

    def test_registry_builds_local(self) -> None:
        """Classifiers are built by name; an unknown name says which exist."""
        settings = Settings(_env_file=None)
        assert isinstance(create("local", settings), LocalClassifier)
        assert isinstance(create("cascade", settings), CascadeClassifier)
        with pytest.raises(ConfigError, match="TIDINGS_LLM__BASE_URL"):
            create("llm", settings)
        with pytest.raises(ConfigError, match="cascade, llm, local"):
            create("psychic", settings)


class TestScorer:
    """The scorer reads plain arrays and must give scikit-learn's probabilities."""

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> tuple[Any, list[str]]:
        records = load_dataset(ROOT / "data/labelled/train/customer_hi.jsonl")
        records += load_dataset(ROOT / "data/labelled/train/logistics_b3.jsonl")
        config = TrainingConfig(word_features=5000, char_features=20000)
        texts = [model_text(r.as_input()) for r in records]
        labels = np.asarray([r.label for r in records])
        pipeline = fit_pipeline(texts, labels, np.ones(len(records)), config)
        dev = [model_text(r.as_input()) for r in load_dataset(ROOT / "data/labelled/dev")[:400]]
        return pipeline, dev

    def test_equals_predict_proba_one_by_one_and_in_a_batch(
        self, fitted: tuple[Any, list[str]]
    ) -> None:
        pipeline, texts = fitted
        scorer = Scorer(Weights.from_pipeline(pipeline))
        expected = pipeline.predict_proba(texts)
        assert np.abs(expected - np.array([scorer.probabilities(t) for t in texts])).max() < 1e-5
        assert np.abs(expected - scorer.probabilities_many(texts)).max() < 1e-5
        assert scorer.probabilities_many([]).shape == (0, len(scorer.labels))
        assert (
            np.abs(
                scorer.probabilities_many(["", "   "]) - pipeline.predict_proba(["", "   "])
            ).max()
            < 1e-5
        )

    def test_shipped_model_equals_sklearn_with_its_weights(self) -> None:
        """The bundled arrays, put back into a scikit-learn pipeline, score dev the same."""
        model = load_model()
        texts = [model_text(r.as_input()) for r in load_dataset(ROOT / "data/labelled/dev")]
        expected = model.weights.to_pipeline().predict_proba(texts)
        assert np.abs(expected - model.scorer.probabilities_many(texts)).max() < 1e-5

    def test_saved_and_loaded_weights_score_the_same(
        self, fitted: tuple[Any, list[str]], tmp_path: Path
    ) -> None:
        pipeline, texts = fitted
        weights = Weights.from_pipeline(pipeline)
        weights.save(tmp_path / "m.npz", {"version": "t"})
        loaded, metadata = Weights.load(tmp_path / "m.npz")
        assert metadata == {"version": "t"} and loaded.labels == weights.labels
        assert np.array_equal(
            Scorer(weights).probabilities_many(texts), Scorer(loaded).probabilities_many(texts)
        )

    def test_shipped_model_loads_fast_without_scikit_learn(self) -> None:
        """A fresh interpreter loads the bundled model and classifies without importing sklearn
        or unpickling anything (the load time itself is measured by bench/classify.py)."""
        code = (
            "import sys; from tidings.classifiers.local import LocalClassifier;"
            "from tidings.classifiers.types import ClassifyContext, EmailInput;"
            "r = LocalClassifier().classify(EmailInput(subject='', text='Where is my order? It has not arrived yet', "
            "sender_kind='customer'), "
            "ClassifyContext()); print(r.label, 'sklearn' in sys.modules, 'joblib' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.split() == ["wismo", "False", "False"]

    def test_a_file_that_is_not_a_model_is_a_clear_error(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.npz"
        bad.write_bytes(b"not a model")
        with pytest.raises(ConfigError, match="not a Tidings model"):
            load_model(bad)
        pickled = tmp_path / "pickled.npz"
        np.savez(pickled, meta=np.array([object()], dtype=object))
        with pytest.raises(ConfigError, match="not a Tidings model"):
            load_model(pickled)


class TestThresholds:
    def test_below_threshold_needs_review(self) -> None:
        """Confidence under the category's threshold asks for a human."""
        assert fixed_local("wismo", 0.6).classify(email("x"), CTX).needs_review
        assert not fixed_local("wismo", 0.9).classify(email("x"), CTX).needs_review


class TestTraining:
    def test_train_small_model(self) -> None:
        """Training on a small sample yields a model with thresholds that classifies."""
        records = [r for r in load_dataset(ROOT / "data/labelled/train/customer_ms.jsonl")]
        model = train(
            records, TrainingConfig(folds=2, word_features=2000, char_features=4000), version="t"
        )
        assert set(model.labels) == {r.label for r in records}
        assert all(0 < t <= 1.01 for t in model.thresholds.values())
        result = LocalClassifier(model=model).classify(
            email("bila parcel saya sampai? dah seminggu", language="ms"), CTX
        )
        assert result.label in model.labels


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with llm_server() as state:
        yield state


def llm(server: LLMServer) -> LLMClassifier:
    settings = LLMSettings(base_url=server.url, api_key=SecretStr("sk-test"), model="m")
    return LLMClassifier(settings, attempts=2, backoff_seconds=0.01)


class TestCascade:
    def test_confident_local_skips_the_llm(self, server: LLMServer) -> None:
        """Rule 1: no LLM call when the local model is sure."""
        result = CascadeClassifier(fixed_local("wismo", 0.95), llm(server)).classify(
            email("x"), CTX
        )
        assert result.label == "wismo" and not result.needs_review
        assert server.requests == []

    def test_unsure_without_llm_goes_to_review(self) -> None:
        """Rule 2: no LLM configured means review."""
        result = CascadeClassifier(fixed_local("wismo", 0.5), None).classify(email("x"), CTX)
        assert result.label == "wismo" and result.needs_review
        assert "no LLM configured" in result.rationale

    def test_llm_failure_keeps_local_for_review(self, server: LLMServer) -> None:
        """Rule 3: a failing LLM leaves the local answer, for review, with the error."""
        server.then(Behaviour("status", status=500), Behaviour("status", status=500))
        result = CascadeClassifier(fixed_local("wismo", 0.5), llm(server)).classify(email("x"), CTX)
        assert (result.label, result.needs_review) == ("wismo", True)
        assert any("llm:" in e for e in result.errors)

    def test_agreement_may_auto_act(self, server: LLMServer) -> None:
        """Rule 4: agreement with a confident LLM clears review; confidence stays calibrated."""
        server.then(answer("wismo", 0.9, order_id="KAP-240311"))
        result = CascadeClassifier(fixed_local("wismo", 0.5), llm(server)).classify(
            email("Where is KAP-240311?"), CTX
        )
        assert (result.label, result.needs_review) == ("wismo", False)
        assert result.confidence == 0.5 and result.usage.llm_calls == 1
        assert result.classifier.startswith("cascade(")

    def test_agreement_never_clears_a_never_automatic_category(self, server: LLMServer) -> None:
        """A category whose threshold is 'never' stays in review even when both agree."""
        server.then(answer("wismo", 0.99))
        never = fixed_local("wismo", 0.5, threshold=1.01)
        assert CascadeClassifier(never, llm(server)).classify(email("x"), CTX).needs_review

    def test_agreement_respects_the_brand_minimum(self, server: LLMServer) -> None:
        """A brand's own threshold above the local confidence keeps the case in review."""
        server.then(answer("wismo", 0.99))
        strict = CTX.model_copy(update={"thresholds": {"wismo": 0.9}})
        assert (
            CascadeClassifier(fixed_local("wismo", 0.5), llm(server))
            .classify(email("x"), strict)
            .needs_review
        )

    def test_disagreement_always_goes_to_review(self, server: LLMServer) -> None:
        """Rule 5: the LLM's label, but a human confirms; local's view stays as an alternative."""
        server.then(answer("address_change", 0.99))
        result = CascadeClassifier(fixed_local("wismo", 0.5), llm(server)).classify(email("x"), CTX)
        assert (result.label, result.needs_review) == ("address_change", True)
        assert result.alternatives[0].label == "wismo"

    def test_pattern_ids_win_over_llm_ids(self, server: LLMServer) -> None:
        """An id the LLM answers but the email does not contain is never used."""
        server.then(answer("wismo", 0.9, order_id="KAP-999999", tracking_number="1234567890123"))
        result = CascadeClassifier(fixed_local("wismo", 0.5), llm(server)).classify(
            email("Where is KAP-240311?"), CTX
        )
        assert result.fields.order_id == "KAP-240311"
        assert result.fields.tracking_number is None

    def test_llm_id_written_in_the_email_fills_a_gap(self, server: LLMServer) -> None:
        """When the patterns found nothing, an LLM id that is in the text is taken."""
        server.then(answer("wismo", 0.9, order_id="ab-77"))
        result = CascadeClassifier(fixed_local("wismo", 0.5), llm(server)).classify(
            email("status of my order ab-77 please"), CTX
        )
        assert result.fields.order_id == "ab-77"

    def test_brand_threshold_raises_the_local_one(self) -> None:
        """A brand minimum above the model's threshold sends a confident answer to review."""
        strict = CTX.model_copy(update={"thresholds": {"wismo": 0.95}})
        assert fixed_local("wismo", 0.9).classify(email("x"), strict).needs_review
