"""Labelled datasets: JSONL in the shared record format, or .eml files with labels.csv."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tidings.classifiers.types import EmailInput, Medium, SenderKind
from tidings.errors import ConfigError


class LabelledEmail(BaseModel):
    """One record of ../shared/data/README.md's format; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    source: str = ""
    sender_kind: SenderKind = "unknown"
    language: str | None = None
    sender: str = Field(default="", alias="from")
    subject: str = ""
    body: str
    label: str
    fields: dict[str, Any] = Field(default_factory=dict)
    date: dt.date | None = None
    channel: Medium = "email"
    in_reply_to: str | None = Field(
        default=None, description="chat records: the event of the shop's notice this answers"
    )

    def as_input(self) -> EmailInput:
        """What a classifier gets: everything but the answer."""
        return EmailInput(
            subject=self.subject or "",
            text=self.body,
            sender=self.sender or None,
            sender_kind=self.sender_kind,
            language=self.language,
            sent_on=self.date,
            medium=self.channel,
            answers_notice=self.in_reply_to,
        )


def load_jsonl(path: Path) -> list[LabelledEmail]:
    """Read a JSONL dataset; a bad line is an error naming the file and line."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(LabelledEmail.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise ConfigError(f"{path}:{number}: not a valid labelled record: {exc}") from exc
    return records


def load_eml_folder(folder: Path) -> list[LabelledEmail]:
    """A folder of .eml files with labels.csv (file,label[,language,sender_kind])."""
    from tidings.inbox.parse import parse_email  # the inbox's parser: the same text as production

    labels = folder / "labels.csv"
    if not labels.is_file():
        raise ConfigError(
            f"{folder} has no labels.csv (columns: file,label[,language,sender_kind])"
        )
    records = []
    with labels.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            parsed = parse_email((folder / row["file"]).read_bytes())
            kind = row.get("sender_kind") or getattr(parsed, "sender_kind", None) or "unknown"
            records.append(
                LabelledEmail(
                    id=row["file"],
                    source=folder.name,
                    sender_kind=kind,
                    language=row.get("language") or getattr(parsed, "language", None),
                    sender=parsed.sender.address if parsed.sender else "",
                    subject=parsed.subject,
                    body=parsed.text,
                    label=row["label"],
                    date=parsed.date.date() if parsed.date else None,
                )
            )
    return records


def load_dataset(path: Path) -> list[LabelledEmail]:
    """A .jsonl file, a folder of .jsonl files, or a folder of .eml files with labels.csv."""
    if path.is_dir():
        if (path / "labels.csv").is_file():
            return load_eml_folder(path)
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise ConfigError(f"{path} has neither labels.csv nor .jsonl files")
        return [record for file in files for record in load_jsonl(file)]
    if not path.is_file():
        raise ConfigError(f"dataset {path} not found")
    return load_jsonl(path)


def load_many(paths: Iterable[Path]) -> list[LabelledEmail]:
    """Several datasets, concatenated in order."""
    return [record for path in paths for record in load_dataset(path)]
