"""Proactive WISMO scan: open shipments scanned, episodes opened and notices queued, per second.

    python bench/wismo_scan.py [--quick] [--json] [--sizes 100000,300000,1000000]
                               [--delayed 0.05]

On PostgreSQL (a throwaway database per size): bulk-load N open shipments with their orders,
order lines and customers in set-based INSERT ... SELECT over generate_series (no Python loop
over rows), about ``--delayed`` of them past their promise date, then time one scan: detect the
problems, open the episodes and queue their notices in the outbox, in one transaction. Then a
second scan, which must queue nothing. Each size's scans run in a fresh process, whose peak
RSS (resource.getrusage) is the memory figure: flat when it does not grow with the size.
--quick runs 20,000 shipments only. The last line with --json is one JSON object of the
figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scratch-PostgreSQL helper is a test helper

from sqlalchemy import func, select, text  # noqa: E402

from tests.conftest import scratch_postgres  # noqa: E402
from tidings.config import load_brands  # noqa: E402
from tidings.config.settings import BUNDLED_BRANDS_FILE  # noqa: E402
from tidings.store.brands import sync_brands  # noqa: E402
from tidings.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.models import Notification  # noqa: E402
from tidings.wismo.scan import Scanner  # noqa: E402

LOAD = [
    # Two orders per customer.
    """INSERT INTO customers (id, brand_id, name, email, phone, language, time_zone, country,
           channel_order, created_at, updated_at)
       SELECT g, (SELECT min(id) FROM brands) + g % 3, 'Customer ' || g,
              'c' || g || '@bench.example', '+9198' || lpad(g::text, 8, '0'),
              (ARRAY['en','hi','id','ms'])[1 + g % 4],
              (ARRAY['Asia/Kolkata','Asia/Jakarta','Asia/Kuala_Lumpur','Europe/London'])[1 + g % 4],
              'IN', '["email"]'::jsonb, now(), now()
       FROM generate_series(1, :customers) g""",
    # Every 1/:delayed-th order was promised before yesterday; the others after tomorrow.
    """INSERT INTO orders (id, number, brand_id, customer_id, status, currency, total_minor,
           placed_at, shipping_address, promised_date, version, created_at, updated_at)
       SELECT g, 'BENCH-' || g, (SELECT min(id) FROM brands) + ((g + 1) / 2) % 3,
              (g + 1) / 2, 'shipped', 'INR', 149900, now() - interval '3 days',
              '{"lines": ["12 MG Road"], "city": "Bengaluru", "postcode": "560001",
                "country": "IN"}'::jsonb,
              CASE WHEN g % :every = 0 THEN current_date - 3 ELSE current_date + 2 + g % 4 END,
              1, now(), now()
       FROM generate_series(1, :shipments) g""",
    """INSERT INTO order_lines (id, order_id, sku, name, quantity, unit_price_minor, status)
       SELECT g, g, 'SKU-' || g % 500, 'Kurta ' || g % 500, 1, 149900, 'shipped'
       FROM generate_series(1, :shipments) g""",
    """INSERT INTO shipments (id, order_id, carrier, tracking_number, status, skus, shipped_at,
           promised_date, eta, last_scan_at, created_at, updated_at)
       SELECT g, g, 'delhivery', 'T' || lpad(g::text, 12, '0'), 'in_transit', '[]'::jsonb,
              now() - interval '2 days', o.promised_date, o.promised_date,
              now() - interval '2 hours', now(), now()
       FROM generate_series(1, :shipments) g JOIN orders o ON o.id = g""",
]
# The ids were given explicitly: move each table's sequence past them.
SEQUENCES = [
    f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"  # noqa: S608 - constants
    for table in ("customers", "orders", "order_lines", "shipments")
]


def load(url: str, shipments: int, delayed: float) -> float:
    """Migrate and bulk-load; the seconds it took."""
    started = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        sync_brands(session=session, brands=load_brands(BUNDLED_BRANDS_FILE))
    params = {
        "shipments": shipments,
        "customers": (shipments + 1) // 2,
        "every": max(1, round(1 / delayed)),
    }
    with engine.begin() as conn:
        for statement in LOAD:
            conn.execute(text(statement), params)
        for statement in SEQUENCES:
            conn.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
    engine.dispose()
    return time.perf_counter() - started


def measure(url: str) -> dict[str, Any]:
    """Two scans in a fresh process: its peak RSS is the scans' (the load ran in SQL)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_scans, (url,))
    return result


def _scans(url: str) -> dict[str, Any]:
    """The first scan finds and tells, the second must find nothing new."""
    engine = make_engine(url)
    scanner = Scanner(
        sessions=make_session_factory(engine), brands=load_brands(BUNDLED_BRANDS_FILE)
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first = scanner.scan()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    second = scanner.scan()
    with engine.connect() as conn:
        queued = conn.scalar(select(func.count()).select_from(Notification)) or 0
    engine.dispose()
    return {
        "shipments": first.shipments,
        "episodes_opened": first.episodes_opened,
        "enqueued": first.enqueued,
        "scan_seconds": first.seconds,
        "shipments_per_s": round(first.shipments / max(first.seconds, 1e-9)),
        "rss_before_mb": round(before / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "rescan_seconds": second.seconds,
        "rescan_enqueued": second.enqueued,
        "outbox_rows": queued,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 shipments only")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--delayed", type=float, default=0.05, help="share past its promise")
    args = parser.parse_args()
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = []
    for size in sizes:
        with scratch_postgres("tidings_bench_wismo") as url:
            loaded = load(url, size, args.delayed)
            run = {"size": size, "load_seconds": round(loaded, 1), **measure(url)}
        runs.append(run)
        print(
            f"{size:>9,} shipments: scan {run['scan_seconds']:.2f} s "
            f"({run['shipments_per_s']:,}/s), {run['episodes_opened']:,} episodes, "
            f"{run['enqueued']:,} queued, peak RSS {run['peak_rss_mb']} MB (before the "
            f"scan {run['rss_before_mb']} MB); rescan {run['rescan_seconds']:.2f} s queued "
            f"{run['rescan_enqueued']} (load {run['load_seconds']} s)",
            flush=True,
        )
    if args.json:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        print(json.dumps({"bench": "wismo_scan", "at": stamp, "runs": runs}))


if __name__ == "__main__":
    main()
