"""The promotion gate: a candidate model replaces the served one only if no headline metric
(accuracy, macro-F1, coverage at the shipped thresholds, silently archived requests) regresses
beyond a margin on any evaluation set.

The margin, 0.01 by default, is about two emails in 200: below it, a difference between two models
on sets of this size is noise; above it, a model is worse in a way people would notice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tidings.classifiers.local import LocalClassifier, LocalModel
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.evals.dataset import LabelledEmail, load_dataset
from tidings.evals.metrics import summarise
from tidings.evals.report import compare, gate_failures
from tidings.evals.runner import run

DEFAULT_MARGIN = 0.01
ROOT = Path(__file__).resolve().parents[2]
CHAT_FILE = "chat.jsonl"


class SetResult(BaseModel):
    """One evaluation set: both models' headline figures and the comparison."""

    name: str
    n: int
    rows: list[dict[str, Any]]
    failures: list[str]


class GateResult(BaseModel):
    """The verdict, with everything it rests on (stored with the promotion)."""

    current: str
    candidate: str
    margin: float
    sets: list[SetResult]

    @property
    def passed(self) -> bool:
        """No set regressed."""
        return all(not s.failures for s in self.sets)


def default_sets(root: Path = ROOT) -> dict[str, list[LabelledEmail]]:
    """dev and test (all of each folder), and the chat-style records of each on their own."""
    sets: dict[str, list[LabelledEmail]] = {}
    for split in ("dev", "test"):
        folder = root / "data" / "labelled" / split
        if folder.is_dir():
            sets[split] = load_dataset(folder)
        if (folder / CHAT_FILE).is_file():
            sets[f"chat-{split}"] = load_dataset(folder / CHAT_FILE)
    return sets


def gate(
    candidate: LocalModel,
    current: LocalModel,
    sets: dict[str, list[LabelledEmail]],
    *,
    margin: float = DEFAULT_MARGIN,
) -> GateResult:
    """Evaluate both models on every set and compare."""
    labels = load_taxonomy().names
    results = []
    for name, records in sets.items():
        before = summarise(run(LocalClassifier(model=current), records), labels=labels)
        after = summarise(run(LocalClassifier(model=candidate), records), labels=labels)
        rows = compare(before, after, tolerance=margin)
        results.append(
            SetResult(name=name, n=len(records), rows=rows, failures=gate_failures(rows))
        )
    return GateResult(
        current=current.version, candidate=candidate.version, margin=margin, sets=results
    )
