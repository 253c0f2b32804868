"""The WhatsApp template registry: definitions, sync with Twilio's Content API, statuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from tests import prism
from tests.factories import brand_rows
from tidings.channels.twilio import twilio_client
from tidings.channels.whatsapp import (
    TemplateDefinition,
    approval_of,
    content_variables,
    define_template,
    sync_templates,
)
from tidings.config import BrandsFile
from tidings.errors import ConfigError
from tidings.store.db import SessionFactory, transaction
from tidings.store.models import WhatsAppApproval, WhatsAppTemplate

A = WhatsAppApproval
DELAY = TemplateDefinition(
    brand="kapas",
    event="delayed",
    language="en",
    body="Hi {{1}}, order {{2}} is running late. New date: {{3}}.",
    variables=["customer.first_name", "order.number", "delay.new_eta"],
)


def _define(sessions: SessionFactory, brands: BrandsFile, *definitions: TemplateDefinition) -> None:
    with transaction(sessions) as session:
        brand_rows(session, brands)
        for definition in definitions:
            define_template(session=session, definition=definition)


class TestDefinitions:
    def test_placeholders_must_match_variables(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A body whose {{n}} do not match the variable list is refused with the fix."""
        bad = DELAY.model_copy(update={"variables": ["customer.first_name"]})
        with pytest.raises(ConfigError, match=r"placeholders \[1, 2, 3\]"):
            _define(sessions, brands, bad)

    def test_changing_the_body_forgets_the_old_approval(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Approved content cannot be edited in WhatsApp: a new body needs new approval."""
        _define(sessions, brands, DELAY)
        with transaction(sessions) as session:
            row = session.scalars(select(WhatsAppTemplate)).one()
            row.content_sid, row.approval_status = "HX1", A.APPROVED
        _define(sessions, brands, DELAY.model_copy(update={"body": DELAY.body + " Sorry!"}))
        with sessions() as session:
            row = session.scalars(select(WhatsAppTemplate)).one()
        assert row.content_sid is None and row.approval_status is A.UNSUBMITTED

    def test_content_variables_are_formatted_for_the_customer(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Dates read in the customer's language; missing values are never empty."""
        _define(sessions, brands, DELAY)
        with sessions() as session:
            row = session.scalars(select(WhatsAppTemplate)).one()
        variables = {
            "customer": {"first_name": "Asha"},
            "order": {"number": "KAP-1"},
            "delay": {"new_eta": "2026-12-12"},
        }
        assert content_variables(row, variables, language="en", time_zone="Asia/Kolkata") == {
            "1": "Asha",
            "2": "KAP-1",
            "3": "12 Dec 2026",
        }
        assert content_variables(row, {}, language="hi", time_zone="Asia/Kolkata")["1"] == "-"


class TestSyncAgainstTheContract:
    def test_create_submit_and_read_status(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """List, create and submit are valid Content API requests; the row gets its SID."""
        _define(sessions, brands, DELAY)
        http = prism.LoopbackTwilioHttpClient(prism.twilio_routes())
        client = twilio_client(prism.ACCOUNT_SID, prism.AUTH_TOKEN, http_client=http)
        with transaction(sessions) as session:
            report = sync_templates(session=session, client=client, submit=True)
        assert report.created == 1 and report.submitted == 1
        assert [(m, status) for m, _, status in http.sent] == [
            ("GET", 200),
            ("POST", 201),
            ("POST", 201),
        ]
        assert http.sent[2][1].endswith("/ApprovalRequests/whatsapp")
        with sessions() as session:
            row = session.scalars(select(WhatsAppTemplate)).one()
        assert (row.content_sid or "").startswith("HX") and row.synced_at is not None
        assert row.approval_status not in (A.UNSUBMITTED, A.APPROVED)

    def test_cli_syncs_definitions_from_a_file(self, db_url: str, tmp_path: Path) -> None:
        """`tidings outbox whatsapp-sync --definitions FILE --json` against the mock."""
        if "sqlite" not in db_url:
            pytest.skip("the CLI test runs once, on SQLite")
        routes = prism.twilio_routes()
        file = tmp_path / "wa.yaml"
        file.write_text(
            "templates:\n  - brand: seri\n    event: shipped\n    language: ms\n"
            "    body: 'Hai {{1}}, pesanan {{2}} sudah dihantar.'\n"
            "    variables: [customer.first_name, order.number]\n",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "TIDINGS_DATABASE_URL": db_url,
            "TIDINGS_TWILIO__ACCOUNT_SID": prism.ACCOUNT_SID,
            "TIDINGS_TWILIO__AUTH_TOKEN": prism.AUTH_TOKEN,
            # One Prism per spec: the content server also answers nothing else this command needs.
            "TIDINGS_TWILIO__API_BASE_URL": routes["content.twilio.com"],
        }
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tidings",
                "outbox",
                "whatsapp-sync",
                "--definitions",
                str(file),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert (
            result.stdout.strip()
            .splitlines()[-1]
            .startswith('{"created": 1, "adopted": 0, "submitted": 0')
        )


def _remote(sid: str, name: str, body: str, approval: dict[str, Any] | None) -> SimpleNamespace:
    return SimpleNamespace(
        sid=sid,
        friendly_name=name,
        types={"twilio/text": {"body": body}},
        approval_requests=approval,
    )


class TestStatuses:
    def test_adopts_existing_content_and_reads_statuses(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Content made earlier (same name and body) is adopted, not duplicated; rejections keep
        their reason."""
        other = DELAY.model_copy(update={"language": "hi", "body": "नमस्ते {{1}}, {{2}} {{3}}"})
        _define(sessions, brands, DELAY, other)
        remote = [
            _remote("HXen", "tidings_kapas_delayed_en", DELAY.body, {"status": "approved"}),
            _remote(
                "HXhi",
                "tidings_kapas_delayed_hi",
                other.body,
                {"whatsapp": {"status": "rejected", "rejection_reason": "INVALID_FORMAT"}},
            ),
        ]
        listing = SimpleNamespace(list=lambda: remote)
        client = SimpleNamespace(
            content=SimpleNamespace(v1=SimpleNamespace(content_and_approvals=listing))
        )
        with transaction(sessions) as session:
            report = sync_templates(session=session, client=client)
        assert report.adopted == 2 and report.created == 0
        assert report.statuses == {"approved": 1, "rejected": 1}
        with sessions() as session:
            rows = {r.language: r for r in session.scalars(select(WhatsAppTemplate))}
        assert rows["en"].content_sid == "HXen" and rows["en"].approval_status is A.APPROVED
        assert rows["hi"].rejection_reason == "INVALID_FORMAT"

    def test_unknown_and_missing_statuses(self) -> None:
        """No approval request yet is unsubmitted; a status we do not know is kept as unknown."""
        assert approval_of(None) == (A.UNSUBMITTED, None)
        assert approval_of({}) == (A.UNSUBMITTED, None)
        assert approval_of({"status": "in_appeal"}) == (A.UNKNOWN, None)
