"""The hostile corpus (tests/data/eml, made by make_corpus.py): each file parses to what its
manifest entry says, and the whole corpus goes through import and the parse step with every
file ending in exactly one row, parsed or quarantined, never lost."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tidings.config import BrandsFile
from tidings.config.settings import InboxSettings
from tidings.errors import InboxError
from tidings.inbox.import_files import email_files, import_files
from tidings.inbox.parse import ParsedEmail, parse_email
from tidings.pipeline.steps import parse_step
from tidings.pipeline.worker import Worker
from tidings.store.db import SessionFactory
from tidings.store.enums import EmailState
from tidings.store.models import InboundEmail

CORPUS = Path(__file__).resolve().parent / "data" / "eml"
MANIFEST: dict[str, dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text("utf-8"))
PATTERNS = [r"\bKAP-\d{6}\b", r"\bSERI-\d{5}\b", r"\bGRH-\d{6}\b"]


def check(parsed: ParsedEmail, expect: dict[str, Any]) -> list[str]:
    """Every way ``parsed`` differs from the manifest's expectations."""
    problems = []

    def differs(name: str, actual: object) -> None:
        if name in expect and expect[name] != actual:
            problems.append(f"{name}: expected {expect[name]!r}, got {actual!r}")

    differs("subject", parsed.subject)
    differs("message_id", parsed.message_id)
    differs("sender", parsed.sender.address if parsed.sender else None)
    differs("sender_name", parsed.sender.name if parsed.sender else None)
    differs("sender_kind", parsed.sender_kind)
    differs("language", parsed.language)
    differs("order_ids", parsed.order_ids)
    differs("tracking_numbers", parsed.tracking_numbers)
    differs("text", parsed.text)
    differs("forwarded", len(parsed.forwarded))
    differs("body_format", parsed.body_format)
    differs("automated", parsed.automated)
    differs("attachments", [a.content_type for a in parsed.attachments])
    differs("attachment_names", [a.filename for a in parsed.attachments])
    for field, haystack in (
        ("text_contains", parsed.text),
        ("quoted_contains", parsed.quoted),
        ("signature_contains", parsed.signature),
        ("warnings_contain", "\n".join(parsed.warnings)),
    ):
        problems += [f"{field}: {s!r} missing" for s in expect.get(field, []) if s not in haystack]
    problems += [f"text has {s!r}" for s in expect.get("text_excludes", []) if s in parsed.text]
    return problems


class TestCorpus:
    def test_corpus_is_big_enough(self) -> None:
        """At least 40 hostile files, each with a manifest entry, and no stray files."""
        files = {p.name for p in CORPUS.glob("*.eml")}
        assert len(files) >= 40
        assert files == set(MANIFEST)

    @pytest.mark.parametrize("name", sorted(MANIFEST), ids=str)
    def test_file_parses_as_the_manifest_says(self, name: str) -> None:
        """Parsed with the expected fields, or refused with InboxError when quarantine is due."""
        expect = MANIFEST[name]
        raw = (CORPUS / name).read_bytes()
        started = time.perf_counter()
        if expect["outcome"] == "quarantined":
            if raw.strip():
                with pytest.raises(InboxError) as caught:
                    parse_email(raw, order_id_patterns=PATTERNS)
                assert expect.get("error_contains", "") in str(caught.value)
            return
        parsed = parse_email(raw, order_id_patterns=PATTERNS)
        assert check(parsed, expect) == []
        assert not any("internal parser error" in w for w in parsed.warnings)
        assert time.perf_counter() - started < 5, "a hostile file must not stall the parser"


class TestCorpusThroughThePipeline:
    def test_every_file_ends_as_exactly_one_row(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Import counts match the manifest, and after the parse step every row is parsed or
        quarantined with a readable error: nothing lost, nothing crashed."""
        files = email_files(CORPUS)
        report = import_files(session_factory=sessions, files=files, mailbox="hostile")
        outcomes = [MANIFEST[f.name]["outcome"] for f in files]
        assert report.duplicates == outcomes.count("duplicate")
        assert report.imported + report.quarantined == len(files) - report.duplicates
        Worker(
            session_factory=sessions, steps=[parse_step(brands, InboxSettings())]
        ).run_until_idle()
        with sessions() as session:
            rows = session.scalars(select(InboundEmail)).all()
        assert len(rows) == len(files) - report.duplicates
        quarantined = [r for r in rows if r.state is EmailState.QUARANTINED]
        assert {r.state for r in rows} <= {EmailState.PARSED, EmailState.QUARANTINED}
        assert len(quarantined) == outcomes.count("quarantined")
        assert all(
            r.last_error and "internal parser error" not in r.last_error for r in quarantined
        )
        parsed = [r for r in rows if r.state is EmailState.PARSED]
        assert [
            (r.subject, r.parsed is None, r.sender_kind)
            for r in parsed
            if r.parsed is None or not r.sender_kind
        ] == []
