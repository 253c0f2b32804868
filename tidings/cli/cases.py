"""``tidings cases``: what the pipeline made of the emails."""

from __future__ import annotations

import dataclasses
import json

import typer
from rich.table import Table

from tidings.cli.common import console, load_settings, open_database
from tidings.store.enums import CaseState
from tidings.store.listing import list_cases

app = typer.Typer(help="Cases: one per email, with its category, confidence and state.")


@app.command("list")
def list_command(
    state: list[CaseState] = typer.Option([], "--state", help="only these states (repeatable)"),
    category: list[str] = typer.Option([], "--category", help="e.g. wismo (repeatable)"),
    brand: list[str] = typer.Option([], "--brand", help="brand slug (repeatable)"),
    language: list[str] = typer.Option([], "--language", help="en, hi, id, ms (repeatable)"),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """The newest cases, filtered by state, category, brand and language."""
    sessions = open_database(load_settings()).sessions
    with sessions() as session:
        lines = list_cases(
            session=session,
            states=state,
            categories=category,
            brands=brand,
            languages=language,
            limit=limit,
        )
    if as_json:
        for line in lines:
            console.print(
                json.dumps(dataclasses.asdict(line), default=str), highlight=False, markup=False
            )
        return
    table = Table("id", "brand", "category", "conf.", "state", "lang", "order", "subject")
    for line in lines:
        table.add_row(
            str(line.id),
            line.brand or "-",
            line.category,
            f"{line.confidence:.2f}",
            line.state,
            line.language or "-",
            line.order or "-",
            (line.subject or "")[:60],
        )
    console.print(table)
    console.print(f"{len(lines)} case(s); filters: --state --category --brand --language")
