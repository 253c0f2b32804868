"""Users: add, list, disable, change a password. Names are lower case and unique."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from tidings.auth.passwords import hash_password
from tidings.errors import AccountConflictError, AccountError, AccountNotFoundError
from tidings.store.base import utcnow
from tidings.store.enums import Role
from tidings.store.models import BrandRow, User, WebSession

NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class UserPublic(BaseModel):
    """A user as the API and the CLI show it: never the password hash."""

    name: str
    role: Role
    brands: list[str]
    active: bool
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        """The public view of a row."""
        return cls(
            name=user.name,
            role=user.role,
            brands=[brand.slug for brand in user.brands],
            active=user.active,
            last_login_at=user.last_login_at,
            created_at=user.created_at,
        )


def normal_name(name: str) -> str:
    """A login name as stored: trimmed, lower case."""
    return name.strip().lower()


def add_user(
    session: Session, *, name: str, role: Role, password: str, brands: Sequence[str] = ()
) -> User:
    """Add a user in the caller's transaction; ``AccountError`` names what is wrong."""
    name = normal_name(name)
    if not NAME.match(name):
        raise AccountError(
            f"{name!r} is not a valid user name: 1-64 of a-z 0-9 . _ @ -, starting with a "
            "letter or digit"
        )
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AccountConflictError(f"user {name} exists already: pick another name")
    user = User(name=name, role=role, password_hash=hash_password(password))
    user.brands = _brands_for(session, role, brands)
    session.add(user)
    session.flush()
    return user


def _brands_for(session: Session, role: Role, slugs: Sequence[str]) -> list[BrandRow]:
    if role is not Role.BRAND_MANAGER:
        if slugs:
            raise AccountError("--brand is for brand managers only: ops and admins see every brand")
        return []
    if not slugs:
        raise AccountError("a brand manager needs at least one brand: pass --brand SLUG")
    known = {row.slug: row for row in session.scalars(select(BrandRow))}
    unknown = sorted(set(slugs) - set(known))
    if unknown:
        raise AccountError(
            f"no brand {', '.join(unknown)}: known brands are {', '.join(sorted(known)) or 'none'}"
            " (brands come from the brands file, TIDINGS_BRANDS_FILE)"
        )
    return [known[slug] for slug in dict.fromkeys(slugs)]


def get_user(session: Session, name: str) -> User:
    """The user called ``name``, or ``AccountError``."""
    user = session.scalar(
        select(User).where(User.name == normal_name(name)).options(selectinload(User.brands))
    )
    if user is None:
        raise AccountNotFoundError(f"no user {normal_name(name)}: see `tidings users list`")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(
        session.scalars(select(User).options(selectinload(User.brands)).order_by(User.name))
    )


def set_active(session: Session, *, name: str, active: bool) -> User:
    """Enable or disable a user; disabling ends their sessions at once (their tokens stop
    working while they are disabled)."""
    user = get_user(session, name)
    if not active and user.role is Role.ADMIN and user.active and _active_admins(session) <= 1:
        raise AccountConflictError(f"{user.name} is the last active admin: add another admin first")
    user.active = active
    if not active:
        revoke_sessions(session, user.id)
    session.flush()
    return user


def _active_admins(session: Session) -> int:
    query = select(func.count(User.id)).where(User.role == Role.ADMIN, User.active)
    return int(session.scalar(query) or 0)


def set_password(session: Session, *, name: str, password: str) -> User:
    """Give a user a new password; their other sessions end."""
    user = get_user(session, name)
    user.password_hash = hash_password(password)
    revoke_sessions(session, user.id)
    session.flush()
    return user


def revoke_sessions(session: Session, user_id: int) -> None:
    """End every open session of a user."""
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
