"""Password login with rate limits kept in the database, so every web process counts the same.

Failures are counted per login name (since its last success) and per client address, over a
sliding window. The attempt is written before the password is checked, so parallel guesses
count as they arrive, and the argon2 check runs outside any transaction, so a slow hash never
holds SQLite's write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from tidings.auth.passwords import verify_password
from tidings.auth.sessions import NewSession, SessionLimits, start_session
from tidings.auth.users import normal_name
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.models import LoginAttempt, User


@dataclass(frozen=True)
class LoginLimits:
    """At most ``per_name`` failures per login name and ``per_ip`` per address in ``window``."""

    per_name: int
    per_ip: int
    window: timedelta


@dataclass(frozen=True)
class LoginOutcome:
    """A session when the login worked; else why not, and when to try again if throttled."""

    session: NewSession | None = None
    retry_after: float | None = None  # set when throttled: refused before any password check


def log_in(
    factory: SessionFactory,
    *,
    name: str,
    password: str,
    ip: str,
    limits: LoginLimits,
    sessions: SessionLimits,
) -> LoginOutcome:
    """Check a name and password, within the rate limits; start a session when they match."""
    name = normal_name(name)[:64]
    with transaction(factory) as session:
        wait = _wait(session, name=name, ip=ip, limits=limits, now=utcnow())
        if wait is not None:
            return LoginOutcome(retry_after=wait)
        attempt = LoginAttempt(name=name, ip=ip[:45], succeeded=False)
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
        stored = session.execute(
            select(User.id, User.password_hash, User.active).where(User.name == name)
        ).first()
    ok, rehashed = verify_password(password, stored.password_hash if stored else None)
    if stored is None or not ok or not stored.active:
        return LoginOutcome()
    with transaction(factory) as session:
        user = session.get_one(User, stored.id)
        session.get_one(LoginAttempt, attempt_id).succeeded = True
        user.last_login_at = utcnow()
        if rehashed:
            user.password_hash = rehashed
        started = start_session(session, user=user, ip=ip, limits=sessions)
    return LoginOutcome(session=started)


def _wait(
    session: Session, *, name: str, ip: str, limits: LoginLimits, now: datetime
) -> float | None:
    """Seconds until another attempt may be made, or None when one may be made now."""
    since = now - limits.window
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < since))  # the window's past
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.name == name, LoginAttempt.succeeded)
    )
    by_name = select(LoginAttempt.at).where(
        LoginAttempt.name == name,
        ~LoginAttempt.succeeded,
        LoginAttempt.at > max(since, last_success or since),
    )
    by_ip = select(LoginAttempt.at).where(
        LoginAttempt.ip == ip, ~LoginAttempt.succeeded, LoginAttempt.at > since
    )
    waits = [
        _until_room(session, query, limit, limits.window, now)
        for query, limit in ((by_name, limits.per_name), (by_ip, limits.per_ip))
    ]
    found = [w for w in waits if w is not None]
    return max(found) if found else None


def _until_room(
    session: Session,
    query: Select[Any],
    limit: int,
    window: timedelta,
    now: datetime,
) -> float | None:
    """When the oldest of the last ``limit`` failures leaves the window, if there are that many."""
    times: list[datetime] = list(
        session.scalars(query.order_by(LoginAttempt.at.desc()).limit(limit))
    )
    if len(times) < limit:
        return None
    return max(1.0, (times[-1] + window - now).total_seconds())
