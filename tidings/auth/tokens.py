"""API tokens for machines (``Authorization: Bearer``): shown once, stored as a hash, revocable.

A token acts as its user, with the user's role and brands, and stops working while the user is
disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tidings.auth.keys import TOKEN_PREFIX, digest, new_secret
from tidings.auth.users import get_user
from tidings.errors import AccountError, AccountNotFoundError
from tidings.store.base import utcnow
from tidings.store.models import ApiToken, User

PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is a hint: one write a minute, not per call


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is shown once and never stored."""

    token: str
    prefix: str
    user: str


def create_token(session: Session, *, user: str, label: str | None = None) -> NewToken:
    """A new token for ``user``, in the caller's transaction."""
    owner = get_user(session, user)
    token = TOKEN_PREFIX + new_secret()
    row = ApiToken(
        token_hash=digest(token), prefix=token[:PREFIX_LENGTH], user_id=owner.id, label=label
    )
    session.add(row)
    session.flush()
    return NewToken(token=token, prefix=row.prefix, user=owner.name)


def find_token(session: Session, token: str) -> tuple[ApiToken, User] | None:
    """The live token and its active user, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None), User.active)
    ).first()
    return (found[0], found[1]) if found else None


def needs_touch(row: ApiToken, now: datetime) -> bool:
    """Whether ``last_used_at`` is stale enough to be written again."""
    return row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY


def touch_token(session: Session, token_id: int, now: datetime) -> None:
    """Record that a token was used."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def revoke_token(session: Session, *, token_or_prefix: str) -> ApiToken:
    """Revoke the token given whole or by the prefix ``tidings tokens list`` shows."""
    value = token_or_prefix.strip()
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
    if len(value) > PREFIX_LENGTH:
        query = query.where(ApiToken.token_hash == digest(value))
    else:
        query = query.where(ApiToken.prefix == value)
    rows = list(session.scalars(query))
    if not rows:
        raise AccountNotFoundError(
            f"no live token {value[:PREFIX_LENGTH]}…: see `tidings tokens list`"
        )
    if len(rows) > 1:
        raise AccountError(f"{len(rows)} tokens start with {value}: give the whole token")
    rows[0].revoked_at = utcnow()
    session.flush()
    return rows[0]


def list_tokens(session: Session) -> list[tuple[ApiToken, str]]:
    """Every token with its user's name, newest first."""
    rows = session.execute(
        select(ApiToken, User.name)
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    return [(row[0], row[1]) for row in rows]
