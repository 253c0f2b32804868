"""``tidings eval``: measure a classifier on labelled data, or compare two reports."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tidings.classifiers.base import Classifier, create
from tidings.classifiers.local import BUNDLED_MODEL, load_model
from tidings.classifiers.sampling import keeps_public_row
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.classifiers.types import EmailInput
from tidings.cli.common import (
    console,
    errors_as_exit,
    fail,
    load_brands_for,
    load_settings,
    progress_bar,
)
from tidings.evals.dataset import LabelledEmail, load_many
from tidings.evals.promotion import DEFAULT_MARGIN
from tidings.evals.report import compare, gate_failures, write_html, write_json
from tidings.evals.runner import run

FEW_SHOT = 8


def _few_shot(path: Path | None) -> list[tuple[EmailInput, dict[str, Any]]]:
    """One short example per category from a labelled file, as (email, answer) pairs."""
    if path is None:
        return []
    by_label: dict[str, LabelledEmail] = {}
    for record in sorted(load_many([path]), key=lambda r: len(r.body)):
        by_label.setdefault(record.label, record)
    picked = random.Random(7).sample(
        sorted(by_label.values(), key=lambda r: r.id), k=min(FEW_SHOT, len(by_label))
    )
    return [
        (
            r.as_input(),
            {
                "label": r.label,
                "confidence": 0.95,
                "language": r.language,
                "rationale": "",
                "fields": r.fields,
            },
        )
        for r in picked
    ]


def _build(name: str, model: Path, few_shot: Path | None) -> Classifier:
    """Through the registry, as an add-on classifier would be built."""
    options: dict[str, Any] = {}
    if name in ("local", "cascade"):
        options["model_path"] = model
    if name in ("llm", "cascade"):
        options["examples"] = _few_shot(few_shot)
    return create(name, load_settings(), **options)


def eval_command(
    dataset: list[Path] = typer.Option(
        None,
        "--dataset",
        help=".jsonl, folder of .jsonl, or .eml folder with labels.csv; repeatable",
    ),
    classifier: str = typer.Option("local", help="local | llm | cascade"),
    output: Path = typer.Option(Path("reports/eval.json"), help="JSON report"),
    html: Path | None = typer.Option(None, help="also write an HTML report"),
    model: Path = typer.Option(BUNDLED_MODEL, help="local model file"),
    few_shot: Path | None = typer.Option(
        None, help="labelled file to draw LLM few-shot examples from"
    ),
    skip_trained: bool = typer.Option(
        False, help="skip public rows the local model was trained on"
    ),
    limit: int | None = typer.Option(None, help="evaluate the first N rows only"),
    compare_with: list[Path] = typer.Option(
        None,
        "--compare",
        help="compare two reports: --compare a.json --compare b.json (exit 1 on a regression)",
    ),
    margin: float = typer.Option(
        DEFAULT_MARGIN, help="--compare: how far a headline metric may fall before it regressed"
    ),
    whole_pipeline: bool = typer.Option(
        False,
        "--pipeline",
        help="run each record through the whole agent graph and count its actions",
    ),
) -> None:
    """Run a classifier over labelled emails and write the report."""
    if compare_with:
        _compare(compare_with, margin)
        return
    if not dataset:
        fail("give --dataset (or --compare a.json --compare b.json)")
    if whole_pipeline:
        _pipeline_eval(dataset, _build(classifier, model, few_shot), output, limit)
        return
    with errors_as_exit():
        records = load_many(dataset)
        if skip_trained:
            config = load_model(model).config
            records = [
                r
                for r in records
                if r.source not in config["public_sources"]
                or not keeps_public_row(r, config["public_fraction"])
            ]
        records = records[:limit] if limit else records
        built = _build(classifier, model, few_shot)
    with progress_bar() as progress:
        task = progress.add_task(f"eval {classifier}", total=len(records))
        outcomes = run(built, records, progress=lambda n: progress.advance(task, n))
    from tidings.evals.metrics import summarise  # scikit-learn: loaded only when evaluating

    report = summarise(outcomes, labels=load_taxonomy().names)
    report["classifier"] = getattr(built, "tag", classifier)
    report["datasets"] = [str(p) for p in dataset]
    write_json(report, output)
    if html:
        write_html(report, html, title=f"Tidings eval: {report['classifier']}")
    _print_summary(report, output)


def _print_summary(report: dict[str, Any], output: Path) -> None:
    coverage = report["coverage_at_precision"]
    table = Table(title=f"eval {report['classifier']} → {output}", show_header=False)
    for key in ("n", "accuracy", "macro_f1"):
        table.add_row(key, str(report[key]))
    achieved = f"precision {coverage['precision']}, target {coverage['target_precision']}"
    table.add_row("coverage at precision", f"{coverage['coverage']} ({achieved})")
    table.add_row(
        "latency p50 / p95 ms", f"{report['latency_ms']['p50']} / {report['latency_ms']['p95']}"
    )
    table.add_row("llm calls / cost", f"{report['llm_calls']} / ${report['cost_usd']}")
    table.add_row("llm calls per email (asked or would be)", str(report["llm_calls_per_email"]))
    table.add_row("silently archived requests", str(report["silently_archived"]["count"]))
    table.add_row("errors", str(report["errors"]["count"]))
    for lang, stats in report["per_language"].items():
        table.add_row(f"accuracy ({lang})", f"{stats['accuracy']} (n={stats['n']})")
    console.print(table)


def _compare(paths: list[Path], margin: float) -> None:
    if len(paths) != 2:
        fail("--compare takes exactly two reports: --compare before.json --compare after.json")
    before, after = (json.loads(p.read_text()) for p in paths)
    rows = compare(before, after, tolerance=margin)
    console.print(comparison_table(rows, f"{paths[0]} → {paths[1]}"))
    failures = gate_failures(rows)
    informative = [r["metric"] for r in rows if r["regressed"] and not r["gates"]]
    console.print(f"worse, for information: {', '.join(informative) or 'nothing'}")
    if failures:
        fail(f"regressed beyond the margin of {margin}: {', '.join(failures)}", code=1)
    console.print(f"no headline metric regressed beyond the margin of {margin}")


def comparison_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Metrics before and after, regressions in red."""
    table = Table(title=title)
    for column in ("metric", "before", "after", "delta"):
        table.add_column(column)
    for row in rows:
        style = "bold red" if row["regressed"] else ("green" if row["delta"] > 0 else "")
        table.add_row(
            row["metric"],
            str(row["before"]),
            str(row["after"]),
            f"{row['delta']:+.4f}",
            style=style,
        )
    return table


def _pipeline_eval(dataset: list[Path], built: Classifier, output: Path, limit: int | None) -> None:
    """``--pipeline``: every record through parse and the agent, in a fresh store each."""
    from tidings.evals.pipeline import evaluate, load_records

    settings = load_settings()
    with errors_as_exit():
        records = load_records(dataset)[:limit] if limit else load_records(dataset)
        brands = load_brands_for(settings)
    with progress_bar() as progress:
        task = progress.add_task("pipeline eval", total=len(records))
        report = evaluate(
            records,
            brands=brands,
            classifier=built,
            settings=settings,
            progress=lambda n: progress.advance(task, n),
        )
    report["datasets"] = [str(p) for p in dataset]
    write_json(report, output)
    table = Table(title=f"pipeline eval → {output}", show_header=False)
    for key in ("n", "auto_resolved", "escalated", "awaiting_customer", "archived", "errors"):
        table.add_row(key, str(report[key]))
    table.add_row("wrong_actions", str(report["wrong_actions"]))
    table.add_row("unauthorised_actions", str(report["unauthorised_actions"]))
    console.print(table)
    console.print(json.dumps({k: v for k, v in report.items() if k != "records"}), markup=False)
