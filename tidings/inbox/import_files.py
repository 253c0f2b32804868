"""``tidings inbox import``: load a folder of .eml files or a Maildir into a mailbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tidings.inbox.store import store_raw_email
from tidings.store.db import SessionFactory, transaction


@dataclass
class ImportReport:
    """Every file given ends in exactly one of these counts."""

    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def count(self, outcome: str) -> None:
        """Count one file by what storing it did."""
        if outcome == "imported":
            self.imported += 1
        elif outcome == "duplicate":
            self.duplicates += 1
        else:
            self.quarantined += 1

    def as_dict(self) -> dict[str, int]:
        """The counts, for ``--json`` output."""
        return {
            "imported": self.imported,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
        }


def email_files(path: Path) -> list[Path]:
    """The email files under ``path``: *.eml anywhere below it, and Maildir cur/ and new/ files."""
    if path.is_file():
        return [path]
    return sorted(_walk(path))


def _walk(root: Path) -> Iterator[Path]:
    for candidate in root.rglob("*"):
        if not candidate.is_file() or candidate.name.startswith("."):
            continue
        in_maildir = candidate.parent.name in ("cur", "new")
        if candidate.suffix.lower() == ".eml" or in_maildir:
            yield candidate


def import_files(
    *,
    session_factory: SessionFactory,
    files: list[Path],
    mailbox: str,
    brand_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store every email file (see ``email_files``) in ``mailbox``, one transaction per email so
    an interrupted import keeps what it stored and a rerun only adds what is missing."""
    report = ImportReport()
    for file in files:
        with transaction(session_factory) as session:
            result = store_raw_email(
                session=session, mailbox=mailbox, raw=file.read_bytes(), brand_id=brand_id
            )
        report.count(result.outcome)
        if progress:
            progress(1)
    return report
