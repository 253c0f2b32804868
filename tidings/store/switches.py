"""Kill switches as rows: set, clear and list them (the CLI and the web app's admin page)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tidings.store.base import utcnow
from tidings.store.models import KillSwitch


def set_switch(
    session: Session,
    *,
    engaged: bool,
    by: str,
    brand: str | None = None,
    category: str | None = None,
    note: str | None = None,
) -> KillSwitch:
    """Engage or release the switch for a scope (both None: everything), in the caller's
    transaction. Workers read it on every case, so it takes effect at the next case."""
    row = session.scalar(
        select(KillSwitch).where(
            func.coalesce(KillSwitch.brand, "") == (brand or ""),
            func.coalesce(KillSwitch.category, "") == (category or ""),
        )
    )
    if row is None:
        row = KillSwitch(brand=brand, category=category, changed_by=by)
        session.add(row)
    row.engaged, row.changed_by, row.changed_at, row.note = engaged, by, utcnow(), note
    session.flush()
    return row


def list_switches(session: Session) -> list[KillSwitch]:
    """Every switch, engaged or not."""
    return list(session.scalars(select(KillSwitch).order_by(KillSwitch.brand, KillSwitch.category)))
