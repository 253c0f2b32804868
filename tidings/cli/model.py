"""``tidings model``: local model versions side by side; promote (gated by evals) and roll back."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.table import Table

from tidings.classifiers.versions import (
    list_models,
    load_version,
    record_promotion,
    rollback_target,
    serving_version,
)
from tidings.cli.common import (
    console,
    errors_as_exit,
    fail,
    load_settings,
    open_database,
    print_json,
)
from tidings.cli.eval import comparison_table
from tidings.evals.dataset import LabelledEmail, load_many
from tidings.evals.promotion import DEFAULT_MARGIN, GateResult, default_sets, gate
from tidings.store.db import transaction

app = typer.Typer(help="Local model versions: list, promote (gated by evals), roll back.")


def _who() -> str:
    return f"cli:{getpass.getuser()}"


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="one JSON object")) -> None:
    """Every version, and which one workers serve."""
    with errors_as_exit(), open_database(load_settings()).sessions() as session:
        models = list_models(session)
    if as_json:
        payload = {"models": [m.model_dump(mode="json") for m in models]}
        print_json(payload)
        return
    table = Table("version", "source", "created", "by", "training rows", "serving", "note")
    for m in models:
        table.add_row(
            m.version,
            m.source,
            f"{m.created_at:%Y-%m-%d %H:%M}" if m.created_at else "-",
            m.created_by or "-",
            str(m.training_rows),
            "[bold green]serving[/]" if m.serving else "",
            m.note or "",
        )
    console.print(table)


@app.command("promote")
def promote(
    version: str = typer.Argument(..., help="the version to serve"),
    dataset: list[str] = typer.Option(
        None,
        "--dataset",
        help="NAME=PATH evaluation set (repeatable); default dev, test and their chat records",
    ),
    margin: float = typer.Option(DEFAULT_MARGIN, help="how far a headline metric may fall"),
    force: bool = typer.Option(False, help="promote even if the gate fails (recorded as forced)"),
) -> None:
    """Serve VERSION if, on every evaluation set, no headline metric falls beyond the margin
    against the model served now."""
    sessions = open_database(load_settings()).sessions
    with errors_as_exit():
        sets = _sets(dataset)
        if not sets:
            fail("no evaluation sets: give --dataset NAME=PATH (data/labelled is not here)")
        with sessions() as session:
            current = load_version(session, serving_version(session))
            candidate = load_version(session, version)
    if candidate.version == current.version:
        fail(f"{version} is served already")
    with console.status(f"evaluating {current.version} and {version} on {', '.join(sets)}..."):
        result = gate(candidate, current, sets, margin=margin)
    _show(result)
    if not result.passed and not force:
        fail(f"not promoted: {version} regressed beyond the margin of {margin}", code=1)
    with errors_as_exit(), transaction(sessions) as session:
        record_promotion(
            session,
            version,
            by=_who(),
            reason="promote" if result.passed else "forced",
            evidence=result.model_dump(mode="json"),
        )
    console.print(f"[bold green]{version} promoted[/]: workers serve it within a minute")


@app.command("rollback")
def rollback() -> None:
    """Serve the version served before the current one again (no gate: it is the way back)."""
    sessions = open_database(load_settings()).sessions
    with errors_as_exit(), transaction(sessions) as session:
        current = serving_version(session)
        target = rollback_target(session)
        record_promotion(session, target, by=_who(), reason="rollback", evidence={"from": current})
    console.print(
        f"rolled back from {current} to [bold]{target}[/]: workers follow within a minute"
    )


def _sets(specs: list[str] | None) -> dict[str, list[LabelledEmail]]:
    if not specs:
        return default_sets()
    sets = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            fail(f"--dataset {spec!r}: write NAME=PATH, e.g. dev=data/labelled/dev")
        sets[name] = load_many([Path(path)])
    return sets


def _show(result: GateResult) -> None:
    for item in result.sets:
        headline = [r for r in item.rows if r["gates"]]
        title = f"{item.name} ({item.n} records): {result.current} → {result.candidate}"
        console.print(comparison_table(headline, title))
        if item.failures:
            console.print(f"[bold red]{item.name}: regressed {', '.join(item.failures)}[/]")
