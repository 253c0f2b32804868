"""Random secrets (session ids, CSRF tokens, API tokens) and the hashes they are stored as."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "tid_"  # noqa: S105 - not a secret: it marks an API token in logs and secret scanners


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """The SHA-256 stored for a random secret: enough for a value nobody can guess, and it
    lets a lookup find the row by an index."""
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())
