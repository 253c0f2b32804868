"""The long-running loop shared by the worker and the outbox dispatcher."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from tidings.logs import get_logger

log = get_logger(__name__)


def run_until_stopped(
    run_once: Callable[[], int],
    stopping: threading.Event,
    *,
    idle_sleep: float,
    max_backoff: float = 60.0,
) -> None:
    """Call ``run_once`` (it returns how many rows it handled) until ``stopping`` is set; sleep
    ``idle_sleep`` after a pass with nothing to do. A database outage (restart, lock timeout)
    pauses the loop with exponential backoff instead of ending the process."""
    failures = 0
    while not stopping.is_set():
        try:
            handled = run_once()
            failures = 0
        except DBAPIError as exc:
            failures += 1
            wait = min(max_backoff, idle_sleep * 2**failures)
            log.warning("database unavailable; retrying", error=str(exc.orig), wait=wait)
            stopping.wait(wait)
            continue
        if handled == 0:
            stopping.wait(idle_sleep)
