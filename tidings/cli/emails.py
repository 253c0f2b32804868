"""``tidings emails``: the stored emails and where each one is in the pipeline."""

from __future__ import annotations

import dataclasses
import json

import typer
from rich.table import Table

from tidings.cli.common import console, load_settings, open_database
from tidings.store.enums import EmailState
from tidings.store.listing import EmailLine, list_emails

app = typer.Typer(help="Stored emails: state, sender kind, language, and why any was quarantined.")


@app.command("list")
def list_command(
    state: list[EmailState] = typer.Option([], "--state", help="only these states (repeatable)"),
    mailbox: list[str] = typer.Option([], "--mailbox", help="only these mailboxes (repeatable)"),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """The newest stored emails, filtered by state and mailbox."""
    sessions = open_database(load_settings()).sessions
    with sessions() as session:
        lines = list_emails(session=session, states=state, mailboxes=mailbox, limit=limit)
    if as_json:
        for line in lines:
            console.print(
                json.dumps(dataclasses.asdict(line), default=str), highlight=False, markup=False
            )
        return
    table = Table("id", "mailbox", "state", "from kind", "lang", "sender", "subject / error")
    for line in lines:
        table.add_row(
            str(line.id),
            line.mailbox,
            line.state,
            line.sender_kind or "-",
            line.language or "-",
            line.sender or "-",
            _summary(line)[:60],
        )
    console.print(table)
    console.print(f"{len(lines)} email(s); filters: --state --mailbox")


def _summary(line: EmailLine) -> str:
    """A quarantined email shows why; any other its subject."""
    if line.state == EmailState.QUARANTINED and line.error:
        return line.error
    return line.subject or ""
