"""Keep the leases of rows in hand alive while a process works on them.

Leases are short (seconds), so the rows of a process that crashed come back quickly; a process
that is alive renews what it holds from a background thread, however long one row takes (an LLM
call, a slow order API). A row whose renewal finds it owned by someone else is dropped from the
set: the work on it fails at its next fenced write (``lease.assert_owned``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from tidings.logs import get_logger
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction

log = get_logger(__name__)


class Heartbeat:
    """A background thread that renews the leases of the rows it holds, every third of a lease."""

    def __init__(
        self, *, sessions: SessionFactory, owner: str, lease_for: timedelta, every: float | None
    ) -> None:
        self._sessions = sessions
        self._owner = owner
        self._lease_for = lease_for
        # A third of a lease leaves two beats' slack; never a busy loop on tiny test leases.
        self._every = max(every or lease_for.total_seconds() / 3, 0.05)
        self._held: dict[type[Any], set[int]] = defaultdict(set)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, model: type[Any], ids: list[int]) -> None:
        """Renew these rows' leases until released."""
        with self._lock:
            self._held[model].update(ids)
        self._start()

    def release(self, model: type[Any], ids: list[int]) -> None:
        """Stop renewing these rows (they are done, failed or given back)."""
        with self._lock:
            self._held[model].difference_update(ids)

    def beat(self) -> None:
        """Renew every held lease now (the thread calls this; tests may too)."""
        with self._lock:
            held = {model: sorted(ids) for model, ids in self._held.items() if ids}
        if not held:
            return
        try:
            with transaction(self._sessions) as session:
                for model, ids in held.items():
                    session.execute(
                        update(model)
                        .where(model.id.in_(ids), model.lease_owner == self._owner)
                        .values(lease_expires_at=utcnow() + self._lease_for)
                        .execution_options(synchronize_session=False)
                    )
        except DBAPIError as exc:  # the next beat tries again; a lapsed lease is fenced anyway
            log.warning("lease heartbeat failed", error=type(exc.orig).__name__)

    def stop(self) -> None:
        """End the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._every + 1)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.beat()
