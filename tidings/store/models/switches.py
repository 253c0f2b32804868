"""Kill switches: turn auto-actions into escalations, globally, per brand or per category."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tidings.store.base import Base, IdMixin, utcnow


class KillSwitch(IdMixin, Base):
    """One switch. ``brand`` and ``category`` NULL mean every brand / every category, so the
    global switch is the row with both NULL. Read on every case, so a change takes effect at the
    next case any worker picks up."""

    __tablename__ = "kill_switches"

    brand: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(40))
    engaged: Mapped[bool] = mapped_column(default=True)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)


# NULLs are distinct in unique constraints, so the scope is made unique through an expression.
Index(
    "uq_kill_switches_scope",
    func.coalesce(KillSwitch.brand, ""),
    func.coalesce(KillSwitch.category, ""),
    unique=True,
)
