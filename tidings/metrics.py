"""Prometheus metrics, served by the web app at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STEP_OUTCOMES = Counter(
    "tidings_step_rows_total",
    "Rows handled by pipeline steps, by step and outcome (done, retry, dead).",
    ["step", "outcome"],
)

QUEUE_ROWS = Gauge(
    "tidings_queue_rows",
    "Rows per table and state, read from the database at scrape time.",
    ["table", "state"],
)

TRACKING_UPDATES = Counter(
    "tidings_wismo_tracking_updates_total",
    "Tracking updates received (aggregator webhooks, carrier emails), by source and outcome "
    "(applied, older, duplicate, unmatched).",
    ["source", "outcome"],
)
