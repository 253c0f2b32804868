"""``tidings demo``: one command from nothing to a working Tidings on this machine.

Fresh SQLite database, demo brands and orders, the bundled sample emails imported and run
through the pipeline as far as it goes, then the web app.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import func, select

from tidings.agent.build import pipeline
from tidings.auth.users import add_user
from tidings.channels.dispatch import DispatchReport
from tidings.cli.common import console, load_settings, open_database, progress_bar
from tidings.cli.demo_env import DemoEnv, remember_demo
from tidings.cli.outbox import build_dispatcher
from tidings.cli.seed import print_seed_report, run_seed
from tidings.cli.serve import listen, run_web
from tidings.config import BrandsFile, Settings, load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE
from tidings.demo.dates import offset_to_now, shifted
from tidings.demo.summary import summary
from tidings.inbox.import_files import ImportReport, email_files
from tidings.inbox.store import store_raw_email
from tidings.pipeline.worker import Worker
from tidings.store.base import utcnow
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import NotificationState, Role
from tidings.store.migrate import upgrade_url
from tidings.store.models import Notification
from tidings.templates.bundled import load_bundled
from tidings.web.app import create_app
from tidings.wismo.scan import Scanner

SAMPLE_EMAILS = Path(__file__).resolve().parent.parent / "demo" / "emails"
DEMO_DB = "tidings-demo.db"
DEMO_OUTBOX = "tidings-demo-outbox"
# One user per role; the brand manager looks after one brand, so the restriction shows.
DEMO_USERS = (
    ("admin", Role.ADMIN, ()),
    ("ops", Role.OPS, ()),
    ("kapas-manager", Role.BRAND_MANAGER, ("kapas",)),
)
NEXT_STEPS = (
    ("tidings cases list", "what each sample email became"),
    ("tidings cases list --state escalated", "the cases waiting for a person"),
    ("tidings cases show ID", "one case's trail: steps, guards, actions, messages"),
    ("tidings cases decide ID approve", "send a drafted reply (a worker applies it)"),
    ("tidings outbox list", "the messages, sent to the local outbox folder"),
    ("tidings wismo report", "proactive WISMO: messages by trigger and channel"),
    ("tidings wismo scan", "scan the open shipments again (nothing new to send)"),
    ("tidings emails list", "the stored emails and their states"),
    ("tidings serve", "the web app, again (log in with a user below)"),
    ("tidings users list", "the web app's users; `tidings users add` for more"),
    ("tidings inbox import PATH", "more .eml files or a Maildir"),
)


def print_next_steps(remembered: DemoEnv) -> None:
    """What to run next, and whether plain ``tidings`` commands here reach the demo's data."""
    if remembered.written:
        console.print(f"[bold]Next[/], in this directory ({remembered.path} points at the demo):")
        prefix = ""
    else:
        console.print(f"[bold]Next[/] ({remembered.reason}, so name the demo database):")
        prefix = f"TIDINGS_DATABASE_URL=sqlite:///{DEMO_DB} "
    for command, what in NEXT_STEPS:
        console.print(f"  {prefix}{command:<40} {what}", highlight=False, markup=False)
    console.print(
        "  (in a checkout, run them as .venv/bin/tidings or `source .venv/bin/activate` first)",
        highlight=False,
        markup=False,
    )


def add_demo_users(sessions: SessionFactory) -> list[tuple[str, str, str]]:
    """One user per role with a random password, as (name, role, password). The passwords are
    printed once and kept nowhere else: a `.env` is read by every later command as settings,
    and a password in it would be copied around with them. `tidings users set-password` (or a
    new demo) gives new ones."""
    logins = []
    with transaction(sessions) as session:
        for name, role, brands in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            add_user(session, name=name, role=role, password=password, brands=brands)
            logins.append((name, role.value, password))
    return logins


def print_logins(logins: list[tuple[str, str, str]]) -> None:
    """The demo users' logins, shown once."""
    table = Table("user", "role", "password", title="web app logins (shown once)")
    for name, role, password in logins:
        table.add_row(name, role, password)
    console.print(table)


def fresh_sqlite(path: Path) -> str:
    """Delete a previous demo database (with its WAL files) and return the new one's URL."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def import_samples(sessions: SessionFactory, brands: BrandsFile, root: Path) -> ImportReport:
    """Import each mailbox folder (``<brand>-support``) of the sample emails, dated as if they
    arrived in the last days (``tidings.demo.dates``)."""
    with transaction(sessions) as session:
        brand_ids = {
            slug: row.id for slug, row in sync_brands(session=session, brands=brands).items()
        }
    folders = {p.name: email_files(p) for p in sorted(root.iterdir()) if p.is_dir()}
    offset = offset_to_now([f.read_bytes() for files in folders.values() for f in files], utcnow())
    total = ImportReport()
    with progress_bar() as progress:
        task = progress.add_task("importing emails", total=sum(map(len, folders.values())))
        for mailbox, files in folders.items():
            for file in files:
                with transaction(sessions) as session:
                    result = store_raw_email(
                        session=session,
                        mailbox=mailbox,
                        raw=shifted(file.read_bytes(), offset),
                        brand_id=brand_ids.get(mailbox.split("-")[0]),
                    )
                total.count(result.outcome)
                progress.advance(task, 1)
    return total


def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="start the web app at the end"),
    orders: int = typer.Option(3000, min=0, help="random orders to generate"),
    directory: Path = typer.Option(Path(), "--dir", help="where the demo database goes"),
    port: int = typer.Option(8000, help="web app port"),
) -> None:
    """Set up a fresh demo database, process the sample emails, and open the web app."""
    started = time.monotonic()
    url = fresh_sqlite((directory / DEMO_DB).resolve())
    shutil.rmtree(directory / DEMO_OUTBOX, ignore_errors=True)  # the last demo's messages
    settings = load_settings(
        database_url=url,
        brands_file=BUNDLED_BRANDS_FILE,
        outbox_dir=(directory / DEMO_OUTBOX).resolve(),
    )
    # The port is taken first: finding it busy after the whole setup would waste the wait.
    web = settings.web
    listener = listen(web, host=web.host, port=port, port_fix="pass --port N") if serve else None
    console.print(f"[bold]Tidings demo[/] · database {directory / DEMO_DB}")
    upgrade_url(url)
    database = open_database(settings)
    sessions = database.sessions
    brands = load_brands(settings.brands_file)
    print_seed_report(run_seed(sessions, brands, orders=orders, seed=42))
    with transaction(sessions) as session:
        templates = load_bundled(session=session, brands=brands)
    imported = import_samples(sessions, brands, SAMPLE_EMAILS)
    with pipeline(settings, brands, sessions) as built:
        processed = Worker(session_factory=sessions, steps=built.steps).run_until_idle()
    # Proactive WISMO: the late parcels' customers hear first (a worker does this on a schedule).
    scanned = Scanner(sessions=sessions, brands=brands, settings=settings.wismo).scan()
    held = _dispatch(settings).counts.get("held", 0)
    morning = _end_of_quiet_hours(sessions) if held else None
    if morning is not None:  # the demo does not wait for the customers' morning: it moves to it
        _dispatch(settings, clock=lambda: morning)
    table = Table(title="sample emails", show_header=False)
    table.add_row("imported", str(imported.imported))
    table.add_row("duplicates", str(imported.duplicates))
    table.add_row("quarantined on import", str(imported.quarantined))
    for step, count in processed.by_step.items():
        table.add_row(f"through step '{step}'", str(count))
    table.add_row("dead-lettered", str(processed.dead))
    table.add_row("message templates loaded", str(templates.added))
    console.print(table)
    done = Table(title="what the agent did", show_header=False)
    with sessions() as session:
        for what, detail in summary(session):
            done.add_row(what, detail)
    done.add_row("open shipments scanned (proactive WISMO)", str(scanned.shipments))
    done.add_row("delay episodes opened", str(scanned.episodes_opened))
    done.add_row("proactive notices queued by the scan", str(scanned.enqueued))
    outbox = settings.outbox_dir
    if morning is not None:
        done.add_row(
            "messages held for quiet hours",
            f"{held}, then sent as of {morning:%d %b %H:%M} UTC (the demo's clock moved there)",
        )
    with sessions() as session:
        written = session.scalar(
            select(func.count()).where(Notification.state == NotificationState.SENT)
        )
    done.add_row(f"messages written to {outbox}", str(written))
    console.print(done)
    remembered = remember_demo(
        env_file=Path(".env"),
        database_url=url,
        outbox_dir=(directory / DEMO_OUTBOX).resolve(),
    )
    print_next_steps(remembered)
    print_logins(add_demo_users(sessions))
    console.print(f"ready in {time.monotonic() - started:.1f} s")
    if listener is not None:
        run_web(create_app(settings, engine=database.engine), listener)


def _dispatch(settings: Settings, clock: Callable[[], datetime] = utcnow) -> DispatchReport:
    """Send what is due to the demo's file outbox."""
    dispatcher = build_dispatcher(settings, concurrency=4, public_url=None, clock=clock)
    try:
        return dispatcher.run_until_idle()
    finally:
        dispatcher.close()


def _end_of_quiet_hours(sessions: SessionFactory) -> datetime | None:
    """When the last message held for its customer's quiet hours may go."""
    with sessions() as session:
        return session.scalar(
            select(func.max(Notification.next_attempt_at)).where(
                Notification.state == NotificationState.HELD
            )
        )
