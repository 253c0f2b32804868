"""``tidings seed``: fill a database with the demo brands and orders."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table
from sqlalchemy import func, select

from tidings.cli.common import (
    console,
    fail,
    load_brands_for,
    load_settings,
    open_database,
    progress_bar,
)
from tidings.config import BrandsFile
from tidings.config.settings import BUNDLED_BRANDS_FILE
from tidings.demo.seed import SeedReport, seed_demo
from tidings.store.db import SessionFactory
from tidings.store.models import Order


def run_seed(sessions: SessionFactory, brands: BrandsFile, *, orders: int, seed: int) -> SeedReport:
    """Seed with a progress bar; shared with ``tidings demo``."""
    with progress_bar() as progress:
        task = progress.add_task("seeding orders", total=orders)
        return seed_demo(
            session_factory=sessions,
            brands=brands,
            orders=orders,
            seed=seed,
            progress=lambda n: progress.advance(task, n),
        )


def print_seed_report(report: SeedReport) -> None:
    """A short table of what was written."""
    table = Table(title="seeded", show_header=False)
    for label, value in [
        ("brands", report.brands),
        ("customers", report.customers),
        ("orders", report.orders),
        ("shipments", report.shipments),
        ("tracking events", report.tracking_events),
        (f"late shipments (as of {datetime.now(UTC).date()} UTC)", report.late_shipments),
    ]:
        table.add_row(label, str(value))
    console.print(table)


def seed(
    orders: int = typer.Option(3000, min=0, help="how many random orders to generate"),
    seed: int = typer.Option(42, help="random seed; the same seed gives the same data"),
) -> None:
    """Load the demo brands, customers and orders into the configured database (always the
    bundled demo brands: the generated orders are theirs)."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    with sessions() as session:
        existing = session.scalar(select(func.count()).select_from(Order)) or 0
    if existing:
        fail(f"the database already has {existing} orders; seed an empty database")
    brands = load_brands_for(settings.model_copy(update={"brands_file": BUNDLED_BRANDS_FILE}))
    print_seed_report(run_seed(sessions, brands, orders=orders, seed=seed))
