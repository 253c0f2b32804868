"""``tidings inbox``: bring email in."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from tidings.cli.common import (
    console,
    errors_as_exit,
    fail,
    load_brands_for,
    load_settings,
    open_database,
    progress_bar,
)
from tidings.inbox.import_files import email_files, import_files
from tidings.store.brands import sync_brands
from tidings.store.db import transaction

app = typer.Typer(help="Bring email in: import files (IMAP polling comes with the inbox issue).")


@app.command("import")
def import_command(
    path: Path = typer.Argument(
        ..., exists=True, help="an .eml file, a folder of them, or a Maildir"
    ),
    mailbox: str = typer.Option(..., help="the mailbox these emails belong to, e.g. kapas-support"),
    brand: str | None = typer.Option(None, help="brand slug the mailbox belongs to"),
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of counts"),
) -> None:
    """Store every email under PATH once; a rerun counts what is already there as duplicates."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    brand_id = None
    if brand:
        brands = load_brands_for(settings)
        with errors_as_exit():
            brands.get(brand)
        with transaction(sessions) as session:
            brand_id = sync_brands(session=session, brands=brands)[brand].id
    files = email_files(path)
    if not files:
        fail(f"no .eml or Maildir files under {path}")
    with progress_bar() as progress:
        task = progress.add_task("importing emails", total=len(files))
        report = import_files(
            session_factory=sessions,
            files=files,
            mailbox=mailbox,
            brand_id=brand_id,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        console.print(json.dumps(report.as_dict()), highlight=False, soft_wrap=True)
    else:
        console.print(
            f"imported {report.imported}, duplicates {report.duplicates}, "
            f"quarantined {report.quarantined}"
        )
