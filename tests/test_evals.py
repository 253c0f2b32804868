"""Evals: reports from the CLI, exceptions counted as wrong, comparisons, HTML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tidings.classifiers.archiving import archives
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.classifiers.types import Classification, ClassifyContext, EmailInput
from tidings.evals.dataset import LabelledEmail, load_dataset
from tidings.evals.metrics import summarise
from tidings.evals.report import compare, write_html
from tidings.evals.runner import ERROR_LABEL, Outcome, run

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tidings" / "demo" / "emails"
REQUIRED = {
    "n",
    "accuracy",
    "macro_f1",
    "per_label",
    "per_language",
    "confusion",
    "coverage_at_precision",
    "latency_ms",
    "llm_calls",
    "cost_usd",
    "errors",
}


class Flaky:
    """Raises on every third email, answers 'wismo' otherwise."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("boom")
        return Classification(label="wismo", confidence=0.9, classifier="flaky")


def records(n: int) -> list[LabelledEmail]:
    return [
        LabelledEmail(id=str(i), body="where is my order", label="wismo", language="en")
        for i in range(n)
    ]


def tidings(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )


class TestRunner:
    def test_exceptions_count_as_wrong(self) -> None:
        """A classifier that raises gets those rows wrong, with the error, and the run goes on."""
        outcomes = run(Flaky(), records(9))
        report = summarise(outcomes, labels=load_taxonomy().names)
        assert report["n"] == 9
        assert report["errors"]["count"] == 3
        assert report["accuracy"] == round(6 / 9, 4)
        assert sum(o.predicted == ERROR_LABEL for o in outcomes) == 3
        assert set(report) >= REQUIRED


class Abstains:
    """Always gives up, as the LLM classifier does when its endpoint is down."""

    name = "abstains"

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        return Classification(
            label="other", confidence=0.0, classifier="x", needs_review=True, abstained=True
        )


class TestAbstentions:
    def test_an_abstention_is_wrong_even_when_truth_is_other(self) -> None:
        """A classifier that gave up scores nothing, not a lucky 'other'."""
        rows = [LabelledEmail(id="1", body="thanks!", label="other", language="en")]
        report = summarise(run(Abstains(), rows), labels=load_taxonomy().names)
        assert report["accuracy"] == 0.0


class TestCli:
    def test_eval_on_the_sample_eml_folder(self, tmp_path: Path) -> None:
        """An .eml folder with labels.csv is a dataset; the report has every required key."""
        out, html = tmp_path / "r.json", tmp_path / "r.html"
        result = tidings(
            "eval",
            "--dataset",
            str(SAMPLES),
            "--classifier",
            "local",
            "--output",
            str(out),
            "--html",
            str(html),
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(out.read_text())
        assert set(report) >= REQUIRED
        assert report["n"] == len(load_dataset(SAMPLES))
        assert report["llm_calls"] == 0 and report["errors"]["count"] == 0
        page = html.read_text()
        assert "<svg" in page and "Confusion matrix" in page

    def test_llm_without_configuration_is_a_clear_error(self, tmp_path: Path) -> None:
        """Asking for the LLM with none configured says which variable to set."""
        result = tidings(
            "eval",
            "--dataset",
            str(SAMPLES),
            "--classifier",
            "llm",
            "--output",
            str(tmp_path / "x.json"),
        )
        assert result.returncode == 2 and "TIDINGS_LLM__BASE_URL" in result.stderr

    def test_compare_shows_regressions(self, tmp_path: Path) -> None:
        """Comparing two reports names what got worse."""
        good = summarise(run(Flaky(), records(3)), labels=load_taxonomy().names)
        worse = json.loads(json.dumps(good))
        worse["accuracy"] -= 0.1
        (tmp_path / "a.json").write_text(json.dumps(good))
        (tmp_path / "b.json").write_text(json.dumps(worse))
        assert [r["metric"] for r in compare(good, worse) if r["regressed"]] == ["accuracy"]
        result = tidings(
            "eval", "--compare", str(tmp_path / "a.json"), "--compare", str(tmp_path / "b.json")
        )
        assert result.returncode == 1, result.stderr
        assert "regressed beyond the margin of 0.01: accuracy" in result.stderr
        same = tidings(
            "eval", "--compare", str(tmp_path / "a.json"), "--compare", str(tmp_path / "a.json")
        )
        assert same.returncode == 0 and "no headline metric regressed" in same.stdout

    def test_html_report(self, tmp_path: Path) -> None:
        """The HTML page has the heat map and the curve."""
        report = summarise(run(Flaky(), records(6)), labels=load_taxonomy().names)
        write_html(report, tmp_path / "r.html", title="t")
        page = (tmp_path / "r.html").read_text()
        assert "hsl(" in page and "<polyline" in page


class TestCascadeEval:
    def test_cascade_eval_counts_llm_calls_and_cost(self, tmp_path: Path) -> None:
        """With an LLM configured, unsure emails go to it and the report shows calls and cost."""
        from tests.llm_server import llm_server

        out = tmp_path / "cascade.json"
        with llm_server() as server:
            env = {
                **os.environ,
                "TIDINGS_LLM__BASE_URL": server.url,
                "TIDINGS_LLM__API_KEY": "sk-test",
            }
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tidings",
                    "eval",
                    "--dataset",
                    str(ROOT / "data/labelled/dev/customer_en.jsonl"),
                    "--classifier",
                    "cascade",
                    "--output",
                    str(out),
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
            asked = len(server.requests)
        assert result.returncode == 0, result.stderr
        report = json.loads(out.read_text())
        assert report["llm_calls"] == asked > 0
        assert report["cost_usd"] > 0 and report["cost_usd_per_email"] > 0
        assert report["classifier"].startswith("cascade(local@")


def test_field_scores_ignore_case_spaces_and_hash() -> None:
    """ "#58702" is order 58702 and "7754 3321 9904" one tracking number; a wrong id is wrong."""
    from tidings.evals.metrics import _same_value

    assert _same_value("#58702", "58702")
    assert _same_value("7754 3321 9904", "775433219904")
    assert _same_value("kap-240311", "KAP-240311")
    assert not _same_value("58702", "58703")
    assert not _same_value("58702", None)


class TestArchivingPolicy:
    """The one rule the agent and the evals share for closing mail unseen."""

    @pytest.mark.parametrize(
        ("label", "confidence", "review", "kind", "archived"),
        [
            ("other", 0.99, False, "customer", True),
            ("other", 0.90, False, "customer", False),  # a customer: only when very sure
            ("other", 0.75, False, "carrier", True),
            ("other", 0.70, False, "carrier", False),  # business mail: only from 0.75
            ("other", 0.99, True, "carrier", False),  # flagged for review: never
            ("wismo", 0.99, False, "customer", False),  # a request is never archived
        ],
    )
    def test_rule(
        self, label: str, confidence: float, review: bool, kind: str, archived: bool
    ) -> None:
        assert (
            archives(
                label,
                confidence,
                needs_review=review,
                sender_kind=kind,
                customer_min_confidence=0.97,
            )
            is archived
        )

    def test_silently_archived_counts_lost_requests_only(self) -> None:
        def outcome(truth: str, predicted: str, confidence: float, kind: str) -> Outcome:
            return Outcome(
                id=f"{truth}-{kind}-{confidence}",
                truth=truth,
                predicted=predicted,
                confidence=confidence,
                needs_review=False,
                latency_ms=1.0,
                sender_kind=kind,
            )

        report = summarise(
            [
                outcome("wismo", "other", 0.99, "customer"),  # lost
                outcome("carrier_delay", "other", 0.8, "carrier"),  # lost
                outcome("carrier_delay", "other", 0.7, "carrier"),  # reviewed: not lost
                outcome("wismo", "other", 0.9, "customer"),  # reviewed: not lost
                outcome("other", "other", 0.99, "customer"),  # right
            ],
            labels=["wismo", "carrier_delay", "other"],
        )
        assert report["silently_archived"]["count"] == 2
        assert {r["truth"] for r in report["silently_archived"]["records"]} == {
            "wismo",
            "carrier_delay",
        }
