"""How long the embedded demo takes, phase by phase: migrate, seed, import, parse.

    python bench/demo_setup.py [--quick] [--json] [--orders N] [--database-url URL]

The last line with --json is one JSON object of the figures. --quick seeds 500 orders instead of
3,000. Pass a PostgreSQL URL of an empty database to time the same work there.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tidings.cli.demo import SAMPLE_EMAILS, import_samples
from tidings.config import load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE, InboxSettings
from tidings.demo.seed import seed_demo
from tidings.pipeline.steps import parse_step
from tidings.pipeline.worker import Worker
from tidings.store.db import make_engine, make_session_factory
from tidings.store.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 orders instead of 3,000")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    orders = args.orders or (500 if args.quick else 3000)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        figures: dict[str, float | int | str] = {"orders": orders, "backend": url.split(":")[0]}
        started = time.perf_counter()
        upgrade(url)
        figures["migrate_s"] = round(time.perf_counter() - started, 3)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        brands = load_brands(BUNDLED_BRANDS_FILE)
        t = time.perf_counter()
        report = seed_demo(session_factory=sessions, brands=brands, orders=orders)
        seed_s = time.perf_counter() - t
        figures["seed_s"] = round(seed_s, 3)
        figures["orders_per_s"] = round(report.orders / seed_s, 1)
        figures["rows_seeded"] = (
            report.orders + report.shipments + report.tracking_events + report.customers
        )
        t = time.perf_counter()
        imported = import_samples(sessions, brands, SAMPLE_EMAILS)
        figures["import_s"] = round(time.perf_counter() - t, 3)
        figures["emails"] = imported.imported
        t = time.perf_counter()
        Worker(
            session_factory=sessions, steps=[parse_step(brands, InboxSettings())]
        ).run_until_idle()
        figures["parse_s"] = round(time.perf_counter() - t, 3)
        figures["total_s"] = round(time.perf_counter() - started, 3)
        engine.dispose()
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>14}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
