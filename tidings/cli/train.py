"""``tidings train``: build the local classifier from labelled emails."""

from __future__ import annotations

import hashlib
from pathlib import Path

import typer
from rich.table import Table

from tidings.classifiers.local import BUNDLED_MODEL
from tidings.cli.common import console, errors_as_exit
from tidings.evals.dataset import load_many


def _digest(path: Path) -> str:
    """sha256 over a file, or over a folder's .jsonl files in name order."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def train_command(
    data: list[Path] = typer.Option(..., "--data", help=".jsonl files or folders; repeatable"),
    output: Path = typer.Option(BUNDLED_MODEL, help="where the model goes"),
    version: str = typer.Option(..., help="model version, e.g. 2026.11.1"),
    c: float = typer.Option(50.0, help="inverse regularisation strength"),
    own_weight: float = typer.Option(3.0, help="weight of our own emails against public ones"),
    public_fraction: float = typer.Option(0.3, help="share of public rows kept"),
) -> None:
    """Fit the model, choose per-category thresholds, and write it with its metadata."""
    # Imported here: scikit-learn takes seconds to import, and every other command would pay it.
    from tidings.classifiers.local import save_model
    from tidings.classifiers.train import TrainingConfig, train

    config = TrainingConfig(c=c, own_weight=own_weight, public_fraction=public_fraction)
    with errors_as_exit():
        records = load_many(data)
    with console.status(f"training on {len(records)} labelled emails (5-fold thresholds)..."):
        model = train(records, config, version=version)
    # What it was trained on, so anyone can tell whether a retrain would see the same data.
    model.config["datasets"] = {str(path): _digest(path) for path in data}
    save_model(model, output)
    table = Table(title=f"local model {version}", show_header=False)
    table.add_row("written to", str(output))
    table.add_row("training rows", str(model.training_rows))
    for key, value in model.out_of_fold.items():
        table.add_row(f"out-of-fold {key}", f"{value:.4f}" if value is not None else "-")
    table.add_row(
        "thresholds", ", ".join(f"{k} {v:.2f}" for k, v in sorted(model.thresholds.items()))
    )
    console.print(table)
