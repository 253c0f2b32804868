"""Server-side login sessions: the cookie carries a random id, the database its hash.

A session ends at its absolute expiry, after an idle spell, at logout, or when its user is
disabled or changes password. Each has its own CSRF token, which every form sends back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tidings.auth.keys import digest, new_secret
from tidings.store.base import utcnow
from tidings.store.models import User, WebSession


@dataclass(frozen=True)
class SessionLimits:
    """How long a login lasts: at most ``lifetime``, and ``idle`` without a request."""

    lifetime: timedelta
    idle: timedelta

    @property
    def touch_every(self) -> timedelta:
        """How stale ``last_seen_at`` may get before a request writes it again: a write per
        page view would queue every reader behind SQLite's single writer."""
        return min(self.idle / 10, timedelta(minutes=5))


@dataclass(frozen=True)
class NewSession:
    """A session just started: ``key`` goes into the cookie and is never stored."""

    key: str
    csrf_token: str
    expires_at: datetime


def start_session(
    session: Session, *, user: User, ip: str | None, limits: SessionLimits
) -> NewSession:
    """Start a session for ``user`` in the caller's transaction."""
    now = utcnow()
    key, csrf = new_secret(), new_secret()
    expires = now + limits.lifetime
    session.add(
        WebSession(
            key_hash=digest(key),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            ip=ip,
        )
    )
    session.flush()
    return NewSession(key=key, csrf_token=csrf, expires_at=expires)


def find_session(
    session: Session, key: str, *, limits: SessionLimits, now: datetime
) -> tuple[WebSession, User] | None:
    """The live session for a cookie value and its active user, or None."""
    if not key or len(key) > 200:
        return None
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.key_hash == digest(key),
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            WebSession.last_seen_at > now - limits.idle,
            User.active,
        )
    ).first()
    return (found[0], found[1]) if found else None


def touch_session(session: Session, session_id: int, now: datetime) -> None:
    """Record activity, which keeps an idle session alive."""
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now))


def end_session(session: Session, key: str) -> bool:
    """Revoke the session behind a cookie value (logout); whether one was live."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.key_hash == digest(key), WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))
