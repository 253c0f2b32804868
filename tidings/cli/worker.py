"""``tidings worker``: process the pipeline's queues until stopped."""

from __future__ import annotations

import signal
from datetime import timedelta
from types import FrameType

import typer

from tidings.agent.build import pipeline, prune_closed
from tidings.classifiers.versions import follow_promotions
from tidings.cli.common import (
    console,
    errors_as_exit,
    load_brands_for,
    load_settings,
    open_database,
)
from tidings.pipeline.worker import Periodic, Worker
from tidings.wismo.scan import Scanner


def worker(
    once: bool = typer.Option(False, "--once", help="work until the queues are empty, then exit"),
    idle_sleep: float = typer.Option(2.0, min=0.1, help="seconds to wait when there is no work"),
) -> None:
    """Lease rows and run pipeline steps; SIGTERM or Ctrl+C stops after the row in hand."""
    settings = load_settings()
    sessions = open_database(settings).sessions
    brands = load_brands_for(settings)
    with errors_as_exit(), pipeline(settings, brands, sessions) as built:
        keep = timedelta(days=settings.agent.checkpoint_retention_days)
        prune = Periodic(
            "prune checkpoints",
            timedelta(hours=1),
            lambda: prune_closed(settings.database_url, sessions, keep),
        )
        # A model promoted with `tidings model promote` reaches every worker within a minute.
        serve_promoted = Periodic(
            "serve the promoted model",
            timedelta(minutes=1),
            lambda: follow_promotions(built.agent.classifier, sessions),
        )
        every = timedelta(seconds=settings.wismo.scan_every_seconds)
        scanner = Scanner(sessions=sessions, brands=brands, settings=settings.wismo)
        # Every worker tries; the scan's lock and its "ran recently" check make it one.
        scan = Periodic("wismo scan", every, lambda: scanner.scan(due_after=every).enqueued)
        runner = Worker(
            session_factory=sessions,
            steps=built.steps,
            lease_for=timedelta(seconds=settings.worker.lease_seconds),
            heartbeat_every=settings.worker.heartbeat_seconds,
            periodic=[prune, serve_promoted, scan],
        )
        if once:
            report = runner.run_until_idle()
            console.print(
                f"done {report.done}, retrying later {report.retried}, dead {report.dead}"
            )
            return

        def stop(_signum: int, _frame: FrameType | None) -> None:
            runner.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        runner.run_forever(idle_sleep=idle_sleep)
