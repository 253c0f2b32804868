"""Prometheus metrics, served by the web app at /metrics."""

from __future__ import annotations

from prometheus_client import Counter

STEP_OUTCOMES = Counter(
    "tidings_step_rows_total",
    "Rows handled by pipeline steps, by step and outcome (done, retry, dead).",
    ["step", "outcome"],
)
