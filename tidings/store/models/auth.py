"""Web app accounts: users, their server-side sessions, API tokens, and login attempts.

Nothing secret is stored as given: a session id and an API token are random 256-bit values
kept as their SHA-256 (a fast hash is enough for values nobody can guess; passwords get
argon2), so a copy of the database logs nobody in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tidings.store.base import Base, BigIntId, IdMixin, TimestampMixin, utcnow
from tidings.store.enums import Role, str_enum
from tidings.store.models.customers import BrandRow

# Which brands a brand manager looks after.
user_brands = Table(
    "user_brands",
    Base.metadata,
    Column("user_id", BigIntId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("brand_id", BigIntId, ForeignKey("brands.id", ondelete="CASCADE"), primary_key=True),
)


class User(IdMixin, TimestampMixin, Base):
    """A person (or a machine, through its API tokens) who uses the web app."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), unique=True, doc="login name, lower case")
    password_hash: Mapped[str] = mapped_column(String(255), doc="argon2, through pwdlib")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    active: Mapped[bool] = mapped_column(default=True, doc="false: no login, no token works")
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    brands: Mapped[list[BrandRow]] = relationship(secondary=user_brands, order_by=BrandRow.slug)


class WebSession(IdMixin, Base):
    """One login: the cookie holds a random id, this row its hash. Revoked by logout, by
    disabling the user, or by expiring."""

    __tablename__ = "web_sessions"

    key_hash: Mapped[str] = mapped_column(String(64), unique=True, doc="sha256 of the cookie")
    user_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64), doc="every form and htmx call sends it")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(doc="absolute end, whatever the activity")
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    ip: Mapped[str | None] = mapped_column(String(45), doc="where the login came from")


class ApiToken(IdMixin, Base):
    """A bearer token for machines; it acts as its user, with the user's role."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True, doc="sha256 of the token")
    prefix: Mapped[str] = mapped_column(String(16), doc="the token's first characters, to tell")
    user_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginAttempt(IdMixin, Base):
    """One password login attempt. Rate limits count recent failures per name and per address
    here, so every web process sees the same counts."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name_at", "name", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    name: Mapped[str] = mapped_column(String(64), doc="as typed, lower case, cut to 64")
    ip: Mapped[str] = mapped_column(String(45))
    succeeded: Mapped[bool] = mapped_column(default=False)
