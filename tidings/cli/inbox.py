"""``tidings inbox``: bring email in."""

from __future__ import annotations

import json
import signal
from datetime import date, datetime
from pathlib import Path
from types import FrameType

import typer
from sqlalchemy import select

from tidings.cli.common import (
    console,
    err_console,
    errors_as_exit,
    fail,
    load_brands_for,
    load_settings,
    open_database,
    progress_bar,
)
from tidings.config.settings import MailboxSettings, Settings
from tidings.inbox.import_files import email_files, import_files
from tidings.inbox.poll import MailboxPoller, run_pollers
from tidings.inbox.sync import SyncReport
from tidings.pipeline.retry import retry_quarantined
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, transaction
from tidings.store.models import MailboxSyncState

DEFAULT_IMPORT_MAILBOX = "imported"

app = typer.Typer(help="Bring email in: poll IMAP mailboxes, import files, retry quarantined mail.")


@app.command("import")
def import_command(
    path: Path = typer.Argument(
        ..., exists=True, help="an .eml file, a folder of them, or a Maildir"
    ),
    mailbox: str | None = typer.Option(
        None,
        help="the mailbox these emails belong to, e.g. kapas-support "
        f"[default: {DEFAULT_IMPORT_MAILBOX}, or BRAND-{DEFAULT_IMPORT_MAILBOX} with --brand]",
    ),
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
    if mailbox is None:
        # Dedupe is per mailbox, so the default must be the same on every run.
        mailbox = f"{brand}-{DEFAULT_IMPORT_MAILBOX}" if brand else DEFAULT_IMPORT_MAILBOX
        err_console.print(f"mailbox: {mailbox} (the default; choose one with --mailbox)")
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


def _mailboxes(settings: Settings, names: list[str] | None) -> list[MailboxSettings]:
    if not settings.mailboxes:
        fail("no mailboxes configured: set TIDINGS_MAILBOXES (see the README's Inbox section)")
    chosen = [box for box in settings.mailboxes if not names or box.name in names]
    unknown = sorted(set(names or []) - {box.name for box in settings.mailboxes})
    if unknown:
        known = ", ".join(box.name for box in settings.mailboxes)
        fail(f"unknown mailbox {', '.join(unknown)}; TIDINGS_MAILBOXES defines: {known}")
    return chosen


def _pollers(
    settings: Settings, sessions: SessionFactory, names: list[str] | None
) -> list[MailboxPoller]:
    boxes = _mailboxes(settings, names)
    brands = load_brands_for(settings)
    with errors_as_exit():
        for box in boxes:
            brands.get(box.brand)
    with transaction(sessions) as session:
        ids = {slug: row.id for slug, row in sync_brands(session=session, brands=brands).items()}
    return [
        MailboxPoller(
            mailbox=box, inbox=settings.inbox, session_factory=sessions, brand_id=ids[box.brand]
        )
        for box in boxes
    ]


def _print_report(report: SyncReport, as_json: bool, label: str) -> None:
    if as_json:
        console.print(json.dumps(report.as_dict()), highlight=False, soft_wrap=True)
        return
    console.print(
        f"{label}: fetched {report.fetched}, imported {report.imported}, duplicates "
        f"{report.duplicates}, quarantined {report.quarantined}, acknowledged "
        f"{report.acknowledged}"
    )


MailboxOption = typer.Option(None, "--mailbox", help="only this mailbox (repeatable)")


@app.command("poll")
def poll_command(
    mailbox: list[str] | None = MailboxOption,
    once: bool = typer.Option(False, "--once", help="sync each mailbox once, then exit"),
    as_json: bool = typer.Option(False, "--json", help="with --once: end with one JSON line"),
) -> None:
    """Store new mail from the configured IMAP mailboxes; IDLE or poll until stopped.

    A message is flagged seen (or moved) only after its row is committed."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    pollers = _pollers(settings, sessions, mailbox)
    if once:
        total = SyncReport()
        for poller in pollers:
            with errors_as_exit():
                total.add(poller.poll_once())
        _print_report(total, as_json, "polled")
        return

    def stop(_signum: int, _frame: FrameType | None) -> None:
        for poller in pollers:
            poller.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    outcomes = run_pollers(pollers)
    failed = [o for o in outcomes if o.error]
    for outcome in failed:
        err_console.print(f"[bold red]error:[/] mailbox {outcome.mailbox}: {outcome.error}")
    if failed:
        raise typer.Exit(2)


def _parse_day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        fail(f"--since {value!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-01")


@app.command("backfill")
def backfill_command(
    since: str = typer.Option(..., help="store mail that arrived on or after this day, YYYY-MM-DD"),
    mailbox: list[str] | None = MailboxOption,
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of counts"),
) -> None:
    """Store every message since a day, whatever was synced before; duplicates are skipped."""
    day = _parse_day(since)
    settings = load_settings()
    sessions = open_database(settings).sessions
    total = SyncReport()
    for poller in _pollers(settings, sessions, mailbox):
        with errors_as_exit():
            total.add(poller.backfill(day))
    _print_report(total, as_json, f"backfilled since {day.isoformat()}")


@app.command("retry")
def retry_command(
    mailbox: str | None = typer.Option(None, help="only quarantined emails of this mailbox"),
    email_id: list[int] | None = typer.Option(None, "--id", help="only this email (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="end with one JSON line of counts"),
) -> None:
    """Parse quarantined emails again (after fixing settings or upgrading Tidings)."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    with errors_as_exit():
        report = retry_quarantined(
            session_factory=sessions,
            brands=load_brands_for(settings),
            inbox=settings.inbox,
            mailbox=mailbox,
            ids=email_id,
        )
    if as_json:
        console.print(json.dumps(report.as_dict()), highlight=False, soft_wrap=True)
    else:
        console.print(
            f"retried {report.retried}: parsed {report.parsed}, "
            f"still quarantined {report.quarantined}"
        )


@app.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="print the sync state as JSON lines"),
) -> None:
    """Show how far each mailbox folder is synced and its last error."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    with sessions() as session:
        rows = session.scalars(select(MailboxSyncState).order_by(MailboxSyncState.mailbox)).all()
    if not rows and not as_json:
        configured = ", ".join(box.name for box in settings.mailboxes)
        hint = (
            f"configured: {configured}; run `tidings inbox poll` to sync them"
            if configured
            else "none configured: set TIDINGS_MAILBOXES (README, Inbox), or import files with "
            "`tidings inbox import PATH`"
        )
        console.print(f"no mailbox has been polled yet ({hint})", highlight=False, markup=False)
    for row in rows:
        fields = {
            "mailbox": row.mailbox,
            "folder": row.folder,
            "uidvalidity": row.uidvalidity,
            "last_uid": row.last_uid,
            "acked_uid": row.acked_uid,
            "last_polled_at": row.last_polled_at.isoformat() if row.last_polled_at else None,
            "last_error": row.last_error,
        }
        if as_json:
            console.print(json.dumps(fields), highlight=False, soft_wrap=True)
        else:
            console.print("  ".join(f"{k}={v}" for k, v in fields.items() if v is not None))
