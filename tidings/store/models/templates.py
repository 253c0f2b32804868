"""Message templates keyed by (brand, event, channel, language), with every version kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, utcnow
from tidings.store.enums import ChannelKind, TemplateStatus, str_enum


class Template(IdMixin, TimestampMixin, Base):
    """A template slot. ``brand_id`` NULL is the default every brand falls back to."""

    __tablename__ = "templates"

    brand_id: Mapped[int | None] = mapped_column(BigIntId, ForeignKey("brands.id"))
    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    language: Mapped[str] = mapped_column(String(8))

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template", cascade="all, delete-orphan", order_by="TemplateVersion.version"
    )


# NULLs are distinct in unique constraints on both databases, so the default (NULL brand) slot
# needs an expression index to stay unique.
Index(
    "uq_templates_slot",
    func.coalesce(Template.brand_id, 0),
    Template.event,
    Template.channel,
    Template.language,
    unique=True,
)


class TemplateVersion(IdMixin, Base):
    """One saved edit of a template; publishing one archives the previously published one."""

    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    template_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("templates.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[TemplateStatus] = mapped_column(
        str_enum(TemplateStatus), default=TemplateStatus.DRAFT
    )
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    template: Mapped[Template] = relationship(back_populates="versions")


# At most one published version per slot, enforced by the database so two concurrent publishes
# cannot both win (migration 0003_templates). Partial indexes work on SQLite and PostgreSQL.
Index(
    "uq_template_versions_published",
    TemplateVersion.template_id,
    unique=True,
    sqlite_where=text("status = 'published'"),
    postgresql_where=text("status = 'published'"),
)
