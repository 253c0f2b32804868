"""The loop every lease-driven process shares: the pipeline worker and the outbox dispatcher.

A runner does passes; a pass leases some rows, works them, and reports how many it handled.
``run_until_idle`` repeats passes until one finds nothing (the demo, tests, ``--once``);
``run_forever`` sleeps between empty passes and rides out database outages with backoff.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Generic, Protocol, Self, TypeVar

from sqlalchemy.exc import DBAPIError

from tidings.logs import get_logger

log = get_logger(__name__)


class Report(Protocol):
    """What one pass did; passes add up."""

    @property
    def handled(self) -> int:
        """Rows the pass touched."""
        ...

    def merge(self, other: Self) -> None:
        """Add another pass's counts to this one."""
        ...


R = TypeVar("R", bound=Report)


class Runner(ABC, Generic[R]):
    """Passes over leased rows until idle or until stopped."""

    stopping: threading.Event

    @abstractmethod
    def run_once(self) -> R:
        """One pass."""

    @abstractmethod
    def empty_report(self) -> R:
        """A report of nothing, to add passes to."""

    def run_until_idle(self, *, max_passes: int = 100_000) -> R:
        """Passes until one finds nothing due; rows waiting for a retry later stay."""
        total = self.empty_report()
        for _ in range(max_passes):
            if self.idle_pass(total) == 0:
                break
        return total

    def idle_pass(self, total: R) -> int:
        """One pass of ``run_until_idle``, added to ``total``; how many rows it handled."""
        report = self.run_once()
        total.merge(report)
        return report.handled

    def forever_pass(self) -> int:
        """One pass of ``run_forever``; how many rows it handled (a runner with periodic work
        of its own does it here)."""
        return self.run_once().handled

    def finish(self) -> None:
        """What ``run_forever`` does on its way out, even after an error (record work in hand)."""

    def run_forever(self, *, idle_sleep: float = 2.0, max_backoff: float = 60.0) -> None:
        """Work until ``stop()``; sleep after a pass with nothing to do. A database outage
        (restart, lock timeout) pauses the loop with exponential backoff instead of ending it."""
        failures = 0
        try:
            while not self.stopping.is_set():
                try:
                    handled = self.forever_pass()
                    failures = 0
                except DBAPIError as exc:
                    failures += 1
                    wait = min(max_backoff, idle_sleep * 2**failures)
                    log.warning("database unavailable; retrying", error=str(exc.orig), wait=wait)
                    self.stopping.wait(wait)
                    continue
                if handled == 0:
                    self.stopping.wait(idle_sleep)
        finally:
            self.finish()

    def stop(self) -> None:
        """Finish the row in hand and return from ``run_forever``."""
        self.stopping.set()
