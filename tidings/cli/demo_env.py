"""Point later commands in this directory at the demo's database, through ``.env``.

After ``tidings demo`` a user runs ``tidings cases list`` or ``tidings serve`` in the same place
and expects the demo's data, not an empty ``tidings.db``. Settings already read ``.env`` from the
working directory, so the demo writes its settings there, in a block it owns and rewrites on the
next run. A ``.env`` that already names another database is the user's own configuration: it is
left alone, and the demo says how to reach its database instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

BEGIN = "# >>> tidings demo: written by `tidings demo`; delete this block to stop using the demo"
END = "# <<< tidings demo"
_BLOCK = re.compile(rf"{re.escape(BEGIN)}.*?{re.escape(END)}\n?", re.DOTALL)
_DATABASE_LINE = re.compile(r"^\s*(?:export\s+)?TIDINGS_DATABASE_URL\s*=", re.MULTILINE)


@dataclass(frozen=True)
class DemoEnv:
    """What happened to ``.env``: ``written`` true when later commands will use the demo."""

    path: Path
    written: bool
    reason: str = ""


def remember_demo(*, env_file: Path, database_url: str, outbox_dir: Path) -> DemoEnv:
    """Write (or refresh) the demo's block in ``env_file`` unless the user configured their own
    database there or in the environment."""
    text = env_file.read_text(encoding="utf-8") if env_file.is_file() else ""
    outside = _BLOCK.sub("", text)
    if _DATABASE_LINE.search(outside):
        return DemoEnv(env_file, False, f"{env_file} sets TIDINGS_DATABASE_URL already")
    if os.environ.get("TIDINGS_DATABASE_URL"):
        return DemoEnv(env_file, False, "TIDINGS_DATABASE_URL is set in the environment")
    block = "\n".join(
        [
            BEGIN,
            f"TIDINGS_DATABASE_URL={database_url}",
            f"TIDINGS_OUTBOX_DIR={outbox_dir}",
            END,
            "",
        ]
    )
    separator = "" if not outside or outside.endswith("\n") else "\n"
    env_file.write_text(outside + separator + block, encoding="utf-8")
    return DemoEnv(env_file, True)
