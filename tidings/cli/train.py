"""``tidings train``: build the local classifier from labelled emails."""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

import typer
from rich.table import Table

from tidings.classifiers.local import BUNDLED_MODEL, LocalModel
from tidings.cli.common import console, errors_as_exit, load_settings, open_database
from tidings.evals.dataset import LabelledEmail, load_many
from tidings.store.db import transaction


def _digest(path: Path) -> str:
    """sha256 over a file, or over a folder's .jsonl files in name order."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _relabelled() -> list[LabelledEmail]:
    from tidings.evals.feedback import relabelled

    with open_database(load_settings()).sessions() as session:
        return relabelled(session)


def _store(model: LocalModel, note: str | None) -> None:
    from tidings.classifiers.versions import add_model

    with errors_as_exit(), transaction(open_database(load_settings()).sessions) as session:
        add_model(session, model, by=f"cli:{getpass.getuser()}", note=note)


def train_command(
    data: list[Path] = typer.Option(..., "--data", help=".jsonl files or folders; repeatable"),
    output: Path | None = typer.Option(
        None, help="model file to write (default: the bundled model; with --from-db, none)"
    ),
    from_db: bool = typer.Option(
        False,
        "--from-db",
        help="add ops' re-labels (human_labels) to the data, and store the model as a new "
        "version in the database for `tidings model promote`",
    ),
    note: str | None = typer.Option(None, help="--from-db: a note kept with the version"),
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
        if from_db:
            feedback = _relabelled()
            console.print(f"{len(feedback)} re-labelled emails from the database added")
            records += feedback
    with console.status(f"training on {len(records)} labelled emails (5-fold thresholds)..."):
        model = train(records, config, version=version)
    # What it was trained on, so anyone can tell whether a retrain would see the same data.
    model.config["datasets"] = {str(path): _digest(path) for path in data}
    table = Table(title=f"local model {version}", show_header=False)
    if output is not None or not from_db:
        save_model(model, output or BUNDLED_MODEL)
        table.add_row("written to", str(output or BUNDLED_MODEL))
    if from_db:
        _store(model, note)
        table.add_row("stored as version", f"{version} (serve it: tidings model promote {version})")
    table.add_row("training rows", str(model.training_rows))
    for key, value in model.out_of_fold.items():
        table.add_row(f"out-of-fold {key}", f"{value:.4f}" if value is not None else "-")
    table.add_row(
        "thresholds", ", ".join(f"{k} {v:.2f}" for k, v in sorted(model.thresholds.items()))
    )
    console.print(table)
