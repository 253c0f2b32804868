"""A worker process for crash tests: it runs the agent pipeline and SIGKILLs itself at a chosen
point. Run as ``python -m tests.crash_worker CONFIG.json``; the config names the database, the
scripted classifications and the kill point:

- ``order_write``: right after the order store applied a change, before the agent recorded it;
- ``notify_commit``: right after the transaction that queued the case's messages committed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tests.agent_support import REPLIES, Scripted, verdict
from tidings.agent.build import build_agent, pipeline
from tidings.agent.draft import TemplateDrafter
from tidings.config import Settings, load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE
from tidings.domain import Address
from tidings.pipeline.worker import Worker
from tidings.resolvers.order_store import BuiltinOrderStore
from tidings.store.db import make_engine, make_session_factory
from tidings.store.models import Notification


def die() -> None:
    """The crash: no cleanup, no flush, no goodbye."""
    os.kill(os.getpid(), signal.SIGKILL)


class CrashingStore(BuiltinOrderStore):
    """Applies a change, then dies before the agent can record that it did."""

    def _change(self, *args: Any, **kwargs: Any) -> Any:
        result = super()._change(*args, **kwargs)
        die()
        return result


def kill_after_notify_commit() -> None:
    """Die right after a commit that queued messages."""
    queued: set[int] = set()

    @event.listens_for(Session, "before_flush")
    def _seen(session: Session, _context: Any, _instances: Any) -> None:
        if any(isinstance(obj, Notification) for obj in session.new):
            queued.add(id(session))

    @event.listens_for(Session, "after_commit")
    def _committed(session: Session) -> None:
        if id(session) in queued:
            die()


def answer(spec: dict[str, Any]) -> Any:
    """A scripted classification from JSON."""
    fields = dict(spec.get("fields", {}))
    if "new_address" in fields:
        fields["new_address"] = Address.model_validate(fields["new_address"])
    if "requested_date" in fields:
        fields["requested_date"] = date.fromisoformat(fields["requested_date"])
    return verdict(spec["label"], spec.get("confidence", 0.99), **fields)


def main(path: str) -> None:
    """Work until idle (or until the kill point)."""
    config = json.loads(open(path, encoding="utf-8").read())  # noqa: PTH123, SIM115
    sessions = make_session_factory(make_engine(config["database_url"]))
    brands = load_brands(BUNDLED_BRANDS_FILE)
    settings = Settings(_env_file=None, database_url=config["database_url"])  # type: ignore[call-arg]
    kill = config.get("kill")
    orders = CrashingStore(sessions) if kill == "order_write" else BuiltinOrderStore(sessions)
    if kill == "notify_commit":
        kill_after_notify_commit()
    script = Scripted({tag: answer(spec) for tag, spec in config["answers"].items()})
    agent = build_agent(
        settings,
        brands,
        sessions,
        classifier=script,
        orders=orders,
        drafter=TemplateDrafter(REPLIES),
    )
    with pipeline(settings, brands, sessions, agent=agent) as built:
        # Short leases: the test's next worker takes over a second after the crash.
        Worker(
            session_factory=sessions,
            steps=built.steps,
            lease_for=timedelta(seconds=1),
            heartbeat_every=0.3,
        ).run_until_idle()


if __name__ == "__main__":
    main(sys.argv[1])
