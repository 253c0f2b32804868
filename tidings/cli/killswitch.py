"""``tidings killswitch``: turn auto-actions into escalations, globally, per brand or category."""

from __future__ import annotations

import getpass

import typer
from rich.table import Table

from tidings.cli.common import console, load_settings, open_database
from tidings.store.db import transaction
from tidings.store.switches import list_switches, set_switch

app = typer.Typer(help="Kill switches: stop auto-actions (every case goes to review instead).")


def _toggle(engaged: bool, brand: str | None, category: str | None, note: str | None) -> None:
    sessions = open_database(load_settings()).sessions
    with transaction(sessions) as session:
        set_switch(
            session,
            engaged=engaged,
            by=f"cli:{getpass.getuser()}",
            brand=brand,
            category=category,
            note=note,
        )
    scope = " / ".join(p for p in (brand, category) if p) or "everything"
    state = "ENGAGED: auto-actions stop" if engaged else "released: auto-actions resume"
    console.print(f"kill switch for {scope} {state} (from the next case any worker picks up)")


@app.command("on")
def on(
    brand: str | None = typer.Option(None, help="only this brand"),
    category: str | None = typer.Option(None, help="only this category, e.g. address_change"),
    note: str | None = typer.Option(None, help="why, for the audit trail"),
) -> None:
    """Engage a switch: matching cases go to review instead of being acted on."""
    _toggle(True, brand, category, note)


@app.command("off")
def off(
    brand: str | None = typer.Option(None, help="only this brand"),
    category: str | None = typer.Option(None, help="only this category"),
) -> None:
    """Release a switch."""
    _toggle(False, brand, category, None)


@app.command("status")
def status() -> None:
    """Every switch and who changed it last."""
    settings = load_settings()
    with open_database(settings).sessions() as session:
        rows = list_switches(session)
    table = Table("scope", "state", "changed by", "at", "note")
    if settings.kill_switch:
        table.add_row("everything (TIDINGS_KILL_SWITCH)", "ENGAGED", "environment", "-", "")
    for row in rows:
        scope = " / ".join(p for p in (row.brand, row.category) if p) or "everything"
        state = "ENGAGED" if row.engaged else "off"
        table.add_row(
            scope, state, row.changed_by, f"{row.changed_at:%Y-%m-%d %H:%M}", row.note or ""
        )
    console.print(table)
