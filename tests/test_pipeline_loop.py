"""The shared run loop of the worker and the dispatcher (tidings/runner.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from tidings.runner import Runner


@dataclass
class Count:
    handled: int = 0

    def merge(self, other: Count) -> None:
        self.handled += other.handled


class Flaky(Runner[Count]):
    """Two passes hit a database outage, then two work; the second asks to stop."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.calls: list[str] = []
        self.finished = False

    def empty_report(self) -> Count:
        return Count()

    def run_once(self) -> Count:
        self.calls.append("pass")
        if len(self.calls) <= 2:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        if len(self.calls) == 4:
            self.stop()
        return Count(1)

    def finish(self) -> None:
        self.finished = True


class TestRunForever:
    def test_database_outage_pauses_and_resumes(self) -> None:
        """Database errors back off and the loop goes on; it ends only when stopped, and its
        finish hook runs on the way out."""
        runner = Flaky()
        runner.run_forever(idle_sleep=0.001, max_backoff=0.01)
        assert len(runner.calls) == 4 and runner.finished
