"""Misconfigurations end in one line that names the fix and exit code 2, never a traceback.

Each case runs real commands as subprocesses, in an empty directory (no stray .env), with one
thing wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [("db", "current"), ("worker", "--once"), ("inbox", "status")]


def tidings(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidings", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300", **env},
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *names: str) -> None:
    """Exit 2; stderr is an `error:` line, then only indented detail lines; it names ``names``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert all(line.startswith((" ", "\t")) for line in lines[1:]), result.stderr
    for name in names:
        assert name in result.stderr, (name, result.stderr)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A file that is not a database: a kilobyte of random bytes."""
    path = tmp_path / "random.db"
    path.write_bytes(os.urandom(4096))
    return f"sqlite:///{path}"


CASES = {
    "notaurl": ({"TIDINGS_DATABASE_URL": "notaurl"}, ["TIDINGS_DATABASE_URL", "sqlite:///"]),
    "mysql url": ({"TIDINGS_DATABASE_URL": "mysql://db/x"}, ["TIDINGS_DATABASE_URL", "SQLite"]),
    "log level": ({"TIDINGS_LOG_LEVEL": "LOUD"}, ["TIDINGS_LOG_LEVEL", "DEBUG, INFO"]),
    "mailboxes json": ({"TIDINGS_MAILBOXES": "not json"}, ["TIDINGS_MAILBOXES", "JSON"]),
    "mailbox fields": ({"TIDINGS_MAILBOXES": '[{"name": "a"}]'}, ["TIDINGS_MAILBOXES[0].host"]),
    "section json": ({"TIDINGS_INBOX__CARRIER_DOMAINS": "dhl"}, ["TIDINGS_INBOX__*", "JSON"]),
    "llm words": ({"TIDINGS_LLM__BASE_URL": "not a url"}, ["TIDINGS_LLM__BASE_URL", "https://"]),
    "llm ftp": ({"TIDINGS_LLM__BASE_URL": "ftp://x"}, ["TIDINGS_LLM__BASE_URL", "https://"]),
    "web port": ({"TIDINGS_WEB__PORT": "eighty"}, ["TIDINGS_WEB__PORT"]),
}


# Every case under `db current`; the commonest ones under the other commands too.
RUNS = [(case, COMMANDS[0]) for case in CASES] + [
    (case, command)
    for case in ("notaurl", "log level", "mailboxes json", "llm words")
    for command in COMMANDS[1:]
]


class TestSettings:
    @pytest.mark.parametrize(
        ("case", "command"), RUNS, ids=[f"{case}-{' '.join(cmd)}" for case, cmd in RUNS]
    )
    def test_bad_setting_is_one_line(
        self, case: str, command: tuple[str, ...], tmp_path: Path
    ) -> None:
        """Every command refuses the setting with one line naming the variable and its shape."""
        env, names = CASES[case]
        env = {"TIDINGS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", **env}
        assert_one_line_error(tidings(*command, env=env, cwd=tmp_path), *names)

    def test_a_secret_in_a_bad_setting_is_not_echoed(self, tmp_path: Path) -> None:
        """A mistyped URL may hold a password: the message names the variable, not the value."""
        env = {"TIDINGS_DATABASE_URL": "postgresql+nodriver://u:hunter22@db/x"}
        result = tidings("db", "current", env=env, cwd=tmp_path)
        assert_one_line_error(result, "TIDINGS_DATABASE_URL")
        assert "hunter22" not in result.stderr

    def test_warn_is_a_log_level(self, tmp_path: Path) -> None:
        """The standard library's alias WARN is accepted, as it always was."""
        env = {
            "TIDINGS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "TIDINGS_LOG_LEVEL": "warn",
        }
        result = tidings("db", "current", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr


class TestDatabase:
    @pytest.mark.parametrize("command", [*COMMANDS, ("db", "upgrade")], ids=lambda c: " ".join(c))
    def test_corrupt_sqlite_file(
        self, command: tuple[str, ...], database: str, tmp_path: Path
    ) -> None:
        """A file of random bytes as the database: say it is not a database and how to start
        afresh."""
        result = tidings(*command, env={"TIDINGS_DATABASE_URL": database}, cwd=tmp_path)
        assert_one_line_error(result, "TIDINGS_DATABASE_URL", "not a database", "db upgrade")

    def test_driver_not_installed(self, tmp_path: Path) -> None:
        """A PostgreSQL URL naming a driver that is not installed names the URL to fix."""
        env = {"TIDINGS_DATABASE_URL": "postgresql+pg8000://u@127.0.0.1/x"}
        result = tidings("db", "current", env=env, cwd=tmp_path)
        assert_one_line_error(result, "TIDINGS_DATABASE_URL")

    def test_unreachable_server(self, tmp_path: Path) -> None:
        """A server that does not answer is one line: the driver's reason and what to check."""
        env = {"TIDINGS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
        result = tidings("db", "current", env=env, cwd=tmp_path)
        assert_one_line_error(result, "cannot reach the database", "TIDINGS_DATABASE_URL")


class TestBrandsFile:
    @pytest.mark.parametrize(
        ("content", "names"),
        [
            (None, ["not found", "TIDINGS_BRANDS_FILE"]),
            ("brands: [\n  - slug: x\n  bad", ["not valid YAML"]),
            ("brands:\n  - slug: 1\n", ["is invalid", "brands.0.name"]),
        ],
        ids=["missing", "not yaml", "invalid"],
    )
    def test_bad_brands_file(self, content: str | None, names: list[str], tmp_path: Path) -> None:
        """A missing, unparseable or invalid brands file: one line naming the file, then the
        problems, each indented."""
        path = tmp_path / "brands.yaml"
        if content is not None:
            path.write_text(content, encoding="utf-8")
        url = f"sqlite:///{tmp_path / 'x.db'}"
        env = {"TIDINGS_DATABASE_URL": url, "TIDINGS_BRANDS_FILE": str(path)}
        assert tidings("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
        result = tidings("worker", "--once", env=env, cwd=tmp_path)
        assert_one_line_error(result, str(path), *names)
