"""The shared run loop of the worker and the dispatcher."""

from __future__ import annotations

import threading

from sqlalchemy.exc import OperationalError

from tidings.pipeline.loop import run_until_stopped


class TestRunUntilStopped:
    def test_database_outage_pauses_and_resumes(self) -> None:
        """Database errors back off and the loop goes on; it ends only when stopped."""
        stopping = threading.Event()
        calls: list[str] = []

        def run_once() -> int:
            calls.append("pass")
            if len(calls) <= 2:
                raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            if len(calls) == 4:
                stopping.set()
            return 1

        run_until_stopped(run_once, stopping, idle_sleep=0.001, max_backoff=0.01)
        assert len(calls) == 4
