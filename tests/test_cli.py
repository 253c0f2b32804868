"""The command line, run as a user runs it: real subprocesses, real databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.http import free_port, loopback_client
from tidings.store.db import SessionFactory
from tidings.store.enums import EmailState, NotificationState
from tidings.store.migrate import head_revision
from tidings.store.models import Case, InboundEmail, Notification, Order, User

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tidings" / "demo" / "emails"


def tidings(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        # PYTHONPATH: this checkout's code, even where the venv's editable install is another's
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=cwd or ROOT.parent,  # never the checkout: a developer's .env must not leak in
        timeout=300,
    )


class TestDemo:
    def test_demo_no_serve_processes_the_samples(self, tmp_path: Path) -> None:
        """One command builds a fresh demo database and runs every sample through the pipeline."""
        result = tidings("demo", "--no-serve", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "through step 'parse'" in result.stdout and "through step 'agent'" in result.stdout
        assert "what the agent did" in result.stdout and "cases auto-resolved" in result.stdout
        assert (tmp_path / "tidings-demo.db").is_file()
        from tidings.store.db import make_engine, make_session_factory

        engine = make_engine(f"sqlite:///{tmp_path / 'tidings-demo.db'}")
        with make_session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Order)) >= 3000
            states = set(session.scalars(select(InboundEmail.state)))
            cases = session.scalar(select(func.count()).select_from(Case))
            emails = session.scalar(select(func.count()).select_from(InboundEmail))
            users = {u.name: u.role.value for u in session.scalars(select(User))}
        engine.dispose()
        # One user per role, each login printed once (never written to .env).
        assert users == {"admin": "admin", "ops": "ops", "kapas-manager": "brand_manager"}
        assert "web app logins (shown once)" in result.stdout
        assert "PASSWORD" not in (tmp_path / ".env").read_text().upper()
        assert states <= {EmailState.RESOLVED, EmailState.ESCALATED, EmailState.ARCHIVED}
        assert cases == emails == 36
        # The loop closes: messages in the local outbox, in the customers' languages.
        written = list((tmp_path / "tidings-demo-outbox").rglob("*.*"))
        assert written, "the demo wrote no messages to its outbox"
        with make_session_factory(make_engine(f"sqlite:///{tmp_path / 'tidings-demo.db'}"))() as s:
            outcomes = set(s.scalars(select(Notification.state)))
            dropped = set(
                s.scalars(
                    select(Notification.hold_reason).where(
                        Notification.state == NotificationState.DROPPED
                    )
                )
            )
            proactive = set(
                s.scalars(
                    select(Notification.language).where(
                        Notification.wismo_episode_id.is_not(None),
                        Notification.state == NotificationState.SENT,
                    )
                )
            )
        # Every message rendered: sent (those held for the customers' quiet hours too: the demo
        # moves its clock to their morning), or (proactive WISMO telling a customer of several
        # late parcels) dropped by the weekly cap; none dead, none left waiting.
        allowed = {NotificationState.SENT, NotificationState.DROPPED}
        assert outcomes <= allowed, outcomes
        assert all(reason and reason.startswith("frequency cap") for reason in dropped), dropped
        # The late parcels' customers were told first, each in their language (in the outbox,
        # whatever the hour the demo runs at); a second scan
        # finds nothing new to tell.
        assert proactive == {"en", "hi", "id", "ms"}
        rescan = tidings("wismo", "scan", "--json", cwd=tmp_path)
        assert rescan.returncode == 0, rescan.stderr
        assert json.loads(rescan.stdout.splitlines()[-1])["enqueued"] == 0
        # Running it again starts from scratch instead of failing on existing data.
        assert tidings("demo", "--no-serve", "--orders", "10", cwd=tmp_path).returncode == 0

    def test_demo_serves_the_web_app(self, tmp_path: Path) -> None:
        """Without --no-serve the demo prints the web app's URL and serves it."""
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tidings", "demo", "--orders", "50", "--port", str(port)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            with loopback_client(url) as client:
                while True:
                    try:
                        page = client.get("/login")
                        break
                    except Exception:  # not up yet
                        if time.monotonic() > deadline or proc.poll() is not None:
                            raise
                        time.sleep(0.3)
                assert client.get("/").status_code in (303, 401)  # the dashboard needs a login
            assert page.status_code == 200 and "Log in" in page.text
        finally:
            proc.send_signal(signal.SIGINT)
            output = proc.communicate(timeout=20)[0]
        assert f"http://127.0.0.1:{port}/" in output


class TestAfterTheDemo:
    def test_every_command_in_the_demo_directory_uses_the_demo_database(
        self, tmp_path: Path
    ) -> None:
        """After `tidings demo`, plain commands in that directory work on the demo's data."""
        clean = {k: v for k, v in os.environ.items() if k != "TIDINGS_DATABASE_URL"}
        demo = subprocess.run(
            [sys.executable, "-m", "tidings", "demo", "--no-serve", "--orders", "20"],
            capture_output=True,
            text=True,
            env=clean,
            cwd=tmp_path,
            timeout=300,
        )
        assert demo.returncode == 0, demo.stderr
        assert "tidings cases list" in demo.stdout  # what to run next
        cases = tidings("cases", "list", "--json", "--limit", "100", cwd=tmp_path)
        assert cases.returncode == 0, cases.stderr
        rows = [json.loads(line) for line in cases.stdout.splitlines()]
        assert len(rows) == 36 and {r["brand"] for r in rows} == {"kapas", "seri", "griha"}
        hindi = tidings("cases", "list", "--json", "--language", "hi", cwd=tmp_path)
        assert {json.loads(line)["language"] for line in hindi.stdout.splitlines()} == {"hi"}
        emails = tidings("emails", "list", "--json", "--limit", "100", cwd=tmp_path)
        assert len(emails.stdout.splitlines()) == 36
        for command in (["inbox", "status"], ["templates", "check"], ["worker", "--once"]):
            result = tidings(*command, cwd=tmp_path)
            assert result.returncode == 0, (command, result.stderr)
            assert "db upgrade" not in result.stderr

    def test_the_demo_leaves_a_users_own_database_setting_alone(self, tmp_path: Path) -> None:
        """A .env that names another database is the user's: the demo does not rewrite it."""
        own = "TIDINGS_DATABASE_URL=sqlite:///mine.db\n"
        (tmp_path / ".env").write_text(own)
        result = tidings("demo", "--no-serve", "--orders", "5", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / ".env").read_text() == own
        assert "TIDINGS_DATABASE_URL=sqlite:///tidings-demo.db tidings cases list" in result.stdout

    def test_import_without_a_mailbox_uses_a_stated_default(
        self, db_url: str, tmp_path: Path
    ) -> None:
        """`inbox import PATH` needs no --mailbox; the output names the default it used."""
        env = {"TIDINGS_DATABASE_URL": db_url}
        result = tidings("inbox", "import", str(SAMPLES / "griha-support"), env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "mailbox: imported" in result.stderr and "imported " in result.stdout


class TestCommands:
    def test_db_upgrade_then_current(self, tmp_path: Path) -> None:
        """`tidings db upgrade` migrates an empty database; `db current` reports it."""
        env = {"TIDINGS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        assert tidings("db", "upgrade", env=env).returncode == 0
        current = tidings("db", "current", env=env)
        assert f"database: {head_revision()} · code: {head_revision()}" in current.stdout

    def test_commands_refuse_unmigrated_database(self, tmp_path: Path) -> None:
        """A command on an unmigrated database exits 2 and names the fix."""
        env = {"TIDINGS_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
        result = tidings("seed", "--orders", "5", env=env)
        assert result.returncode == 2
        assert "tidings db upgrade" in result.stderr

    def test_bad_settings_are_a_clear_error(self, tmp_path: Path) -> None:
        """Prod mode with placeholder secrets stops with the variable to set, not a traceback."""
        result = tidings("db", "current", env={"TIDINGS_MODE": "prod"}, cwd=tmp_path)
        assert result.returncode == 2
        assert "TIDINGS_WEB__SECRET_KEY" in result.stderr and "Traceback" not in result.stderr

    def test_seed_and_import_on_the_test_database(
        self, db_url: str, sessions: SessionFactory
    ) -> None:
        """`seed` then `inbox import --json` then `worker --once`, against SQLite or PostgreSQL."""
        env = {"TIDINGS_DATABASE_URL": db_url}
        seeded = tidings("seed", "--orders", "100", env=env)
        assert seeded.returncode == 0, seeded.stderr
        folder = SAMPLES / "griha-support"
        imported = tidings(
            "inbox",
            "import",
            str(folder),
            "--mailbox",
            "griha-support",
            "--brand",
            "griha",
            "--json",
            env=env,
        )
        assert imported.returncode == 0, imported.stderr
        counts = json.loads(imported.stdout.strip().splitlines()[-1])
        files = len(list(folder.glob("*.eml")))
        assert counts == {"imported": files, "duplicates": 0, "quarantined": 0}
        again = json.loads(
            tidings("inbox", "import", str(folder), "--mailbox", "griha-support", "--json", env=env)
            .stdout.strip()
            .splitlines()[-1]
        )
        assert again == {"imported": 0, "duplicates": files, "quarantined": 0}
        worked = tidings("worker", "--once", env=env)
        assert worked.returncode == 0 and f"done {2 * files}" in worked.stdout  # parse + agent
        assert tidings("seed", env=env).returncode == 2  # refuses a database that has orders
        with sessions() as session:
            states = set(session.scalars(select(InboundEmail.state)))
        assert states <= {EmailState.RESOLVED, EmailState.ESCALATED, EmailState.ARCHIVED}

    @pytest.mark.parametrize("group", ["db", "inbox"])
    def test_help(self, group: str) -> None:
        """Every group answers --help."""
        assert tidings(group, "--help").returncode == 0
