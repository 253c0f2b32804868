"""Password hashes: argon2 through pwdlib, with its recommended parameters."""

from __future__ import annotations

import functools

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from tidings.errors import AccountError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is only a way to burn CPU


@functools.cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


@functools.cache
def _decoy() -> str:
    """A hash to verify against when the user does not exist: a missing name then costs the
    same time as a wrong password, so timing does not tell which names exist."""
    return _hasher().hash("not a password anybody has")


def check_strength(password: str) -> None:
    """``AccountError`` naming the rule a new password breaks."""
    if len(password) < MIN_LENGTH:
        raise AccountError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise AccountError(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2 hash to store for a new password (its strength checked first)."""
    check_strength(password)
    return _hasher().hash(password)


def verify_password(password: str, stored: str | None) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored`` (None: no such user, checked against a decoy),
    and a new hash to store when the parameters have moved on since it was made."""
    if len(password) > MAX_LENGTH:
        return False, None
    if stored is None:
        _hasher().verify(password, _decoy())
        return False, None
    return _hasher().verify_and_update(password, stored)
