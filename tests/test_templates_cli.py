"""``tidings templates``: load and check as a subprocess on the real databases; preview and the
bundled check in-process (the CLI's start-up would otherwise dominate the suite's time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from tidings.cli import app
from tidings.store.db import SessionFactory
from tidings.store.models import TemplateVersion

TEST_COPY = Path(__file__).resolve().parent / "data" / "templates"


def tidings(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "tidings", "templates", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


class TestLoadAndCheck:
    def test_load_twice_then_check(self, db_url: str, sessions: SessionFactory) -> None:
        """load is idempotent; check counts what the chain cannot cover, JSON on the last line."""
        env = {"TIDINGS_DATABASE_URL": db_url}
        first = tidings("load", "--json", "--directory", str(TEST_COPY), env=env)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout.splitlines()[-1])["added"] == 6
        second = run("load", "--json", "--directory", str(TEST_COPY), env=env)
        assert json.loads(second.stdout.splitlines()[-1]) == {
            "added": 0,
            "updated": 0,
            "drafted": 0,
            "unchanged": 6,
            "invalid": 0,
        }
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(TemplateVersion)) == 6
        check = run("check", "--json", env=env)
        assert check.exit_code == 1  # things are missing
        # 9 brand languages x (16 events - 2 loaded) x 3 channels
        assert json.loads(check.stdout.splitlines()[-1]) == {"missing": 378, "invalid": 0}
        assert "missing     kapas/order_confirmed/whatsapp/hi" in check.stdout

    def test_bundled_copy_checks_clean(self) -> None:
        """The shipped copy covers every combination without a database."""
        result = run("check", "--bundled", "--json")
        assert result.exit_code == 0, result.stdout[-2000:]
        assert json.loads(result.stdout.splitlines()[-1]) == {"missing": 0, "invalid": 0}


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``tidings templates ...`` in-process."""
    return CliRunner(env=env).invoke(app, ["templates", *args])


class TestPreview:
    def test_preview_renders_sample_data_in_the_locale(self, tmp_path: Path) -> None:
        """A source file renders with sample order data in the chosen language."""
        source = tmp_path / "t.txt"
        source.write_text(
            "{{ customer.first_name }}: {{ order.total|money }}, {{ shipment.eta|date }}"
        )
        result = run("preview", "--source", str(source), "--language", "id", "--brand", "seri")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip() == "Siti: MYR189,00, 12 Des 2026"  # CLDR id: MYR by code

    def test_refused_template_exits_non_zero_with_the_reason(self, tmp_path: Path) -> None:
        """An SSTI attempt is refused with a one-line reason and exit code 2."""
        source = tmp_path / "t.txt"
        source.write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
        result = run("preview", "--source", str(source), "--language", "en")
        assert result.exit_code == 2
        assert "template refused: line 1: refused by the sandbox" in result.stderr
        assert "Traceback" not in result.stderr

    def test_channel_limits_are_checked_on_request(self, tmp_path: Path) -> None:
        """--channel sms adds the segment check; too long exits 1."""
        source = tmp_path / "t.txt"
        source.write_text("{{ customer.name }} " + "word " * 120)
        result = run("preview", "--source", str(source), "--language", "en", "--channel", "sms")
        assert result.exit_code == 1
        assert "segments" in result.stderr
