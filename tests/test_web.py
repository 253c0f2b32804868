"""The web app over real HTTP on loopback: dashboard, queue JSON, health, metrics, API docs
(signed in as the users in tests/web_support.py)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import Engine

from tests.http import loopback_client
from tests.web_support import running_app
from tidings.config import BrandsFile
from tidings.demo.seed import seed_demo
from tidings.inbox.store import store_raw_email
from tidings.store.db import SessionFactory, transaction


class TestWebApp:
    def test_dashboard_shows_queue_health(
        self, engine: Engine, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The dashboard shows brands, orders and emails by state, including quarantined ones."""
        seed_demo(session_factory=sessions, brands=brands, orders=40)
        with transaction(sessions) as session:
            store_raw_email(session=session, mailbox="kapas-support", raw=b"")  # quarantined
            store_raw_email(
                session=session, mailbox="kapas-support", raw=b"Subject: hi\r\n\r\nhello"
            )
        with running_app(engine) as web:
            client = web.login("ops")
            page = client.get("/", headers={"Accept": "text/html"})
            queue = client.get("/api/queue").json()
            health = client.get("/healthz").json()
            metrics = client.get("/metrics")
            client.close()
        assert page.status_code == 200
        assert (
            'data-state="quarantined" class=" bad"' in page.text and "need attention" in page.text
        )
        assert queue["emails"] == {"quarantined": 1, "received": 1}
        assert queue["orders"] >= 40
        assert health["status"] == "ok" and health["schema"]
        assert metrics.status_code == 200
        assert 'tidings_queue_rows{state="quarantined",table="emails"} 1.0' in metrics.text

    def test_client_refuses_non_loopback(self) -> None:
        """The test client cannot reach a real provider by accident."""
        with loopback_client("http://api.twilio.com") as client, pytest.raises(httpx.ConnectError):
            client.get("/")

    def test_api_docs_work_offline(self, engine: Engine) -> None:
        """/docs and /redoc load every script, style and icon from the app itself (these machines
        and many deployments have no CDN), and each of those answers."""
        with running_app(engine) as web:
            client = web.login("ops")
            for page in ("/docs", "/redoc"):
                answer = client.get(page)
                assert answer.status_code == 200
                assert "http://" not in answer.text and "https://" not in answer.text
                refs = re.findall(
                    r"""(?:src|href|url:|spec-url)\s*=?\s*["']([^"']+)["']""", answer.text
                )
                assert "/openapi.json" in refs and any(ref.endswith(".js") for ref in refs)
                for ref in refs:
                    assert ref.startswith("/") and not ref.startswith("//"), ref
                    assert client.get(ref).status_code == 200, ref
            client.close()
