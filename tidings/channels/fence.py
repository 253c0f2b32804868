"""Marking outbox rows ``sending`` right before their provider calls, several to a commit.

Each of the dispatcher's worker threads claims its own row just before its call: the row becomes
``sending`` only if it is still leased to this dispatcher (the lease is the fence), and a thread
whose claim fails makes no call. Threads that claim while a commit is under way wait for it, and
the next commit takes them all (group commit). With many calls in flight the database sees a few
small UPDATEs instead of a transaction per message, and still no row is marked before its own
call is due: a crash leaves in doubt only the calls really under way.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, update

from tidings.store.enums import NotificationState
from tidings.store.models import Notification

S = NotificationState


@dataclass
class _Claim:
    row_id: int
    done: bool = False
    owned: bool = False
    error: BaseException | None = None

    def outcome(self) -> bool:
        if self.error is not None:
            raise self.error
        return self.owned


class SendingFence:
    """Commits rows as ``sending`` for the threads about to send them, if still leased to us."""

    def __init__(self, *, engine: Engine, owner: str, states: Sequence[NotificationState]) -> None:
        self._engine, self._owner, self._states = engine, owner, list(states)
        self._changed = threading.Condition()
        self._waiting: list[_Claim] = []
        self._committing = False

    def claim(self, row_id: int) -> bool:
        """Mark ``row_id`` as ``sending`` and commit; False when our lease on it is gone (then
        do not send). Raises the database's error, having marked nothing."""
        mine = _Claim(row_id)
        with self._changed:
            self._waiting.append(mine)
            while self._committing and not mine.done:
                self._changed.wait()
            if mine.done:  # another thread's commit took it
                return mine.outcome()
            group, self._waiting = self._waiting, []
            self._committing = True
        try:
            self._commit(group)
        finally:
            with self._changed:
                self._committing = False
                self._changed.notify_all()
        return mine.outcome()

    def _commit(self, group: list[_Claim]) -> None:
        """One short transaction for the group; every claim in it learns how it ended."""
        try:
            with self._engine.begin() as connection:
                owned = set(
                    connection.execute(
                        update(Notification)
                        .where(
                            Notification.id.in_([claim.row_id for claim in group]),
                            Notification.lease_owner == self._owner,
                            Notification.state.in_(self._states),
                        )
                        .values(state=S.SENDING)
                        .returning(Notification.id)
                    ).scalars()
                )
        except BaseException as exc:
            for claim in group:
                claim.error, claim.done = exc, True
            raise
        for claim in group:
            claim.owned, claim.done = claim.row_id in owned, True
