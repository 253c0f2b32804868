"""Agent throughput: cases per second from stored emails to committed actions and outbox rows.

    python bench/agent.py [--quick] [--json] [--emails N] [--backend sqlite|postgresql|both]
                          [--workers 1,2]

The emails are the project's dev split (data/labelled/dev), repeated to N, each with an order
that matches it in the built-in store, so address changes, reschedules and cancellations really
change orders. Every email takes the production path: parse, then the agent graph (classify with
the shipped local model, match, decide, resolve or escalate with a template draft, notify),
under the worker's leases, with LangGraph checkpoints in the same database. The clock starts
after the model is loaded and the data is stored. --workers 1,2 runs one worker, then two
worker processes against a fresh copy of the same data (PostgreSQL; SQLite has one writer).
The last line with --json is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scratch-PostgreSQL helper is a test helper

from sqlalchemy import func, select, text  # noqa: E402

from tests.conftest import scratch_postgres  # noqa: E402
from tidings.agent.build import build_agent, pipeline  # noqa: E402
from tidings.agent.draft import TemplateDrafter  # noqa: E402
from tidings.classifiers.local import LocalClassifier  # noqa: E402
from tidings.config import Settings, load_brands  # noqa: E402
from tidings.config.settings import BUNDLED_BRANDS_FILE  # noqa: E402
from tidings.evals.dataset import load_many  # noqa: E402
from tidings.evals.pipeline import brand_of_record, email_bytes, seed_order  # noqa: E402
from tidings.inbox.store import store_raw_email  # noqa: E402
from tidings.pipeline.worker import Worker  # noqa: E402
from tidings.store.brands import sync_brands  # noqa: E402
from tidings.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from tidings.store.migrate import upgrade  # noqa: E402
from tidings.store.models import Case, Notification  # noqa: E402


def prepare(url: str, emails: int) -> None:
    """Migrate, seed brands and an order per record, and store ``emails`` emails."""
    upgrade(url)
    brands = load_brands(BUNDLED_BRANDS_FILE)
    records = load_many([ROOT / "data" / "labelled" / "dev"])
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        sync_brands(session=session, brands=brands)
        for record in records:
            seed_order(session, brands, record)
    for start in range(0, emails, 200):
        with transaction(sessions) as session:
            for i in range(start, min(start + 200, emails)):
                record = records[i % len(records)]
                store_raw_email(
                    session=session,
                    mailbox=f"bench-{i // len(records)}",  # repeats are new emails, not dupes
                    raw=email_bytes(record),
                    brand_id=brand_of_record(session, record),
                )
    engine.dispose()


def work(url: str) -> float:
    """One worker until idle; its wall time."""
    brands = load_brands(BUNDLED_BRANDS_FILE)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    agent = build_agent(
        settings, brands, sessions, classifier=LocalClassifier(), drafter=TemplateDrafter()
    )
    with pipeline(settings, brands, sessions, agent=agent) as built:
        agent.classifier.classify  # noqa: B018 - the model is loaded already
        started = time.perf_counter()
        Worker(session_factory=sessions, steps=built.steps).run_until_idle()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _work_in_process(url: str, start_at: float) -> float:
    time.sleep(max(0.0, start_at - time.time()))  # both processes start together
    return work(url)


def measure(url: str, workers: int) -> dict[str, Any]:
    """Cases per second with ``workers`` processes, and what the cases became."""
    if workers == 1:
        elapsed = work(url)
    else:
        context = multiprocessing.get_context("spawn")
        start_at = time.time() + 8.0  # time to load the model in each process
        with context.Pool(workers) as pool:
            runs = pool.starmap(_work_in_process, [(url, start_at)] * workers)
        elapsed = max(runs)
    engine = make_engine(url)
    with engine.connect() as conn:
        states = Counter(
            dict(conn.execute(select(Case.state, func.count()).group_by(Case.state)).all())
        )
        cases = sum(states.values())
        notices = conn.scalar(select(func.count()).select_from(Notification)) or 0
        checkpoints = conn.execute(text("SELECT count(*) FROM checkpoints")).scalar() or 0
    engine.dispose()
    return {
        "workers": workers,
        "cases": cases,
        "seconds": round(elapsed, 2),
        "cases_per_s": round(cases / elapsed, 1),
        "auto_resolved_share": round(states.get("auto_resolved", 0) / max(cases, 1), 3),
        "escalated_share": round(states.get("escalated", 0) / max(cases, 1), 3),
        "awaiting_share": round(states.get("awaiting_customer", 0) / max(cases, 1), 3),
        "archived_share": round(states.get("archived", 0) / max(cases, 1), 3),
        "messages_queued": notices,
        "checkpoint_rows_per_case": round(checkpoints / max(cases, 1), 2),
    }


def sqlite_run(emails: int) -> dict[str, Any]:
    """One worker on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        prepare(url, emails)
        return measure(url, 1)


def postgres_runs(emails: int, workers: list[int]) -> list[dict[str, Any]]:
    """Each worker count on its own fresh PostgreSQL database with the same data."""
    runs = []
    for count in workers:
        with scratch_postgres("tidings_bench_agent") as url:
            prepare(url, emails)
            runs.append(measure(url, count))
    return runs


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 emails")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--emails", type=int, default=None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", default="1,2", help="PostgreSQL worker counts, e.g. 1,2")
    args = parser.parse_args()
    emails = args.emails or (300 if args.quick else 2000)
    figures: dict[str, Any] = {"emails": emails}
    if args.backend in ("sqlite", "both"):
        figures["sqlite"] = sqlite_run(emails)
    if args.backend in ("postgresql", "both"):
        runs = postgres_runs(emails, [int(w) for w in args.workers.split(",")])
        figures["postgresql"] = runs
        if len(runs) >= 2:
            figures["postgresql_speedup_2_vs_1"] = round(
                runs[1]["cases_per_s"] / runs[0]["cases_per_s"], 2
            )
    if not args.json:
        print(json.dumps(figures, indent=2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
