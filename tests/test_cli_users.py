"""``tidings users`` and ``tidings tokens``, run as a user runs them: real subprocesses on a
real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from tidings.auth.passwords import verify_password
from tidings.auth.tokens import find_token
from tidings.store.db import SessionFactory
from tidings.store.models import ApiToken, User

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def tidings(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The CLI on this test's database (this checkout's code, wherever the venv points)."""
    env = {**os.environ, "TIDINGS_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT.parent,
        timeout=120,
    )


class TestUsersCli:
    def test_add_list_disable(self, db_url: str, sessions: SessionFactory) -> None:
        """Users are added with a piped password (argon2-hashed), listed, and disabled."""
        added = tidings(
            db_url,
            "users",
            "add",
            "Asha",
            "--role",
            "brand_manager",
            "--brand",
            "kapas",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        assert added.returncode == 0, added.stderr
        assert "added asha (brand_manager for kapas)" in added.stdout
        assert (
            tidings(
                db_url,
                "users",
                "add",
                "root",
                "--role",
                "admin",
                "--password-stdin",
                stdin=PASSWORD + "\n",
            ).returncode
            == 0
        )
        listed = tidings(db_url, "users", "list")
        assert "asha" in listed.stdout and "kapas" in listed.stdout
        with sessions() as session:
            stored = session.scalar(select(User.password_hash).where(User.name == "asha"))
        assert stored is not None and stored.startswith("$argon2id$")
        assert verify_password(PASSWORD, stored)[0]
        disabled = tidings(db_url, "users", "disable", "asha")
        assert disabled.returncode == 0 and "disabled" in disabled.stdout
        last = tidings(db_url, "users", "disable", "root")
        assert last.returncode == 2 and "last active admin" in last.stderr

    def test_mistakes_are_one_line_with_the_fix(self, db_url: str) -> None:
        """An unknown brand, a brand manager without one, a short password, a taken name."""

        def add(*extra: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
            return tidings(
                db_url, "users", "add", *extra, "--password-stdin", stdin=password + "\n"
            )

        unknown = add("bm", "--role", "brand_manager", "--brand", "nope")
        assert unknown.returncode == 2 and "no brand nope: known brands are" in unknown.stderr
        assert "needs at least one brand" in add("bm", "--role", "brand_manager").stderr
        assert "at least 10 characters" in add("x", "--role", "ops", password="short").stderr
        assert add("ops1", "--role", "ops").returncode == 0
        taken = add("OPS1", "--role", "ops")
        assert taken.returncode == 2 and "exists already" in taken.stderr
        assert len(taken.stderr.strip().splitlines()) == 1


class TestTokensCli:
    def test_create_prints_once_and_revoke_stops_it(
        self, db_url: str, sessions: SessionFactory
    ) -> None:
        """``tokens create`` prints the token alone on stdout and stores only its hash;
        ``tokens revoke PREFIX`` ends it."""
        assert (
            tidings(
                db_url,
                "users",
                "add",
                "bot",
                "--role",
                "ops",
                "--password-stdin",
                stdin=PASSWORD + "\n",
            ).returncode
            == 0
        )
        created = tidings(db_url, "tokens", "create", "bot", "--label", "prometheus")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        assert token.startswith("tid_") and len(token) > 40 and "shown once" in created.stderr
        with sessions() as session:
            assert find_token(session, token) is not None
            stored = session.scalars(select(ApiToken)).one()
        assert token not in (stored.token_hash, stored.prefix) and token.startswith(stored.prefix)
        listed = tidings(db_url, "tokens", "list")
        assert stored.prefix in listed.stdout and token not in listed.stdout
        revoked = tidings(db_url, "tokens", "revoke", stored.prefix)
        assert revoked.returncode == 0, revoked.stderr
        with sessions() as session:
            assert find_token(session, token) is None
        again = tidings(db_url, "tokens", "revoke", stored.prefix)
        assert again.returncode == 2 and "no live token" in again.stderr
