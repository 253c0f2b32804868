"""CI gate: the shipped local model must not fall below stated floors on held-out data.

Floors (the model shipped in this commit measures above each; see README "Classifiers"):
- project dev split (data/labelled/dev, never trained on): macro-F1 >= 0.95, accuracy >= 0.95
- realistic held-out test set (data/labelled/test, never trained or tuned on): macro-F1 >= 0.95
- Bitext rows the model was not trained on: accuracy >= 0.97
- dev coverage at the shipped thresholds >= 0.80, with precision >= 0.98 on what is covered
- no request silently archived (truth not `other`, archived without a person) on dev or test
- at most 0.2 of the test set's emails go to the LLM (the local model unsure)
- test coverage at the shipped thresholds >= 0.85, with precision >= 0.98
- the chat-style records (WhatsApp/SMS) of dev and of test, on their own: macro-F1 >= 0.95
These are the issues' targets; model 2026.12.06.1 measures dev 0.956 / 0.955 (coverage 0.899 at
0.984), test 0.973 (coverage 0.913 at 0.990), chat dev 0.966 and chat test 0.974, and 0 silently
archived on either split.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import missing
from tidings.classifiers.local import LocalClassifier
from tidings.classifiers.sampling import keeps_public_row
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.evals.dataset import load_dataset
from tidings.evals.metrics import summarise
from tidings.evals.runner import run

ROOT = Path(__file__).resolve().parent.parent
BITEXT = ROOT.parent / "shared" / "data" / "bitext_dev.jsonl"

DEV_MACRO_F1 = 0.95
DEV_ACCURACY = 0.95
BITEXT_ACCURACY = 0.97
TEST_MACRO_F1 = 0.95
DEV_COVERAGE = 0.80
COVERED_PRECISION = 0.98
LLM_PER_EMAIL = 0.2  # share of realistic mail the cascade sends to the LLM
TEST_COVERAGE = 0.85
CHAT_MACRO_F1 = 0.95


@pytest.fixture(scope="module")
def classifier() -> LocalClassifier:
    return LocalClassifier()


class TestQualityGate:
    def test_dev_split(self, classifier: LocalClassifier) -> None:
        """The project's dev split: macro-F1, accuracy and coverage stay above the floors."""
        report = summarise(
            run(classifier, load_dataset(ROOT / "data/labelled/dev")), labels=load_taxonomy().names
        )
        assert report["macro_f1"] >= DEV_MACRO_F1, report["per_label"]
        assert report["accuracy"] >= DEV_ACCURACY
        assert report["silently_archived"]["count"] == 0, report["silently_archived"]
        coverage = report["coverage_at_precision"]
        assert coverage["coverage"] >= DEV_COVERAGE
        assert coverage["precision"] is not None and coverage["precision"] >= COVERED_PRECISION

    def test_realistic_test_set(self, classifier: LocalClassifier) -> None:
        """The held-out test set keeps its macro-F1."""
        report = summarise(
            run(classifier, load_dataset(ROOT / "data/labelled/test")), labels=load_taxonomy().names
        )
        assert report["macro_f1"] >= TEST_MACRO_F1, report["per_label"]
        assert report["silently_archived"]["count"] == 0, report["silently_archived"]
        assert report["llm_calls_per_email"] <= LLM_PER_EMAIL
        coverage = report["coverage_at_precision"]
        assert coverage["coverage"] >= TEST_COVERAGE
        assert coverage["precision"] is not None and coverage["precision"] >= COVERED_PRECISION

    @pytest.mark.parametrize("split", ["dev", "test"])
    def test_chat_messages(self, classifier: LocalClassifier, split: str) -> None:
        """WhatsApp and SMS messages, reported on their own: chat-length text as well as email."""
        records = load_dataset(ROOT / "data/labelled" / split / "chat.jsonl")
        report = summarise(run(classifier, records), labels=load_taxonomy().names)
        assert report["macro_f1"] >= CHAT_MACRO_F1, report["per_label"]
        assert report["silently_archived"]["count"] == 0, report["silently_archived"]

    def test_bitext_rows_not_trained_on(self, classifier: LocalClassifier) -> None:
        """Public Bitext rows held out of training keep their accuracy."""
        if not BITEXT.is_file():
            missing(f"the quality gate's Bitext rows: {BITEXT} (../shared beside the checkout)")
        config = classifier.model.config
        held_out = [
            r for r in load_dataset(BITEXT) if not keeps_public_row(r, config["public_fraction"])
        ]
        assert len(held_out) > 5000
        report = summarise(run(classifier, held_out), labels=load_taxonomy().names)
        assert report["accuracy"] >= BITEXT_ACCURACY
