"""A circuit breaker for the LLM: while it keeps failing, stop calling it for a while.

During an outage every unsure email would otherwise wait out several timeouts, and a worker's
batch would crawl. After ``failures`` transient failures in a row the breaker opens: calls are
refused at once (the case goes to review with the local model's label) until ``cool_down``
seconds pass; then one trial call decides whether it closes again or stays open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client import Gauge

BREAKER_OPEN = Gauge("tidings_llm_breaker_open", "1 while the LLM circuit breaker is open.")


class CircuitBreaker:
    """Closed (calls flow), open (calls refused), half-open (one trial call)."""

    def __init__(
        self,
        *,
        failures: int = 3,
        cool_down: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = failures
        self.cool_down = cool_down
        self.clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        # When the current trial call started; a trial that never reports back (it raised
        # something neither success nor failure) expires after another cool-down.
        self._trial_started: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Whether calls are being refused right now."""
        with self._lock:
            return self._opened_at is not None and not self._cooled()

    def allow(self) -> bool:
        """May a call go out now? After the cool-down, one trial call may."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = self.clock()
            trial_busy = (
                self._trial_started is not None and now - self._trial_started < self.cool_down
            )
            if not self._cooled() or trial_busy:
                return False
            self._trial_started = now
            return True

    def succeeded(self) -> None:
        """A call worked: close."""
        with self._lock:
            self._failures, self._opened_at, self._trial_started = 0, None, None
        BREAKER_OPEN.set(0)

    def failed(self) -> None:
        """A call failed transiently: count it; open (again) at the threshold or after a trial."""
        with self._lock:
            self._failures += 1
            if self._trial_started is not None or self._failures >= self.failures_to_open:
                self._opened_at, self._trial_started = self.clock(), None
                BREAKER_OPEN.set(1)

    def _cooled(self) -> bool:
        return self._opened_at is not None and self.clock() - self._opened_at >= self.cool_down
