"""A worker SIGKILLed in the middle of a graph run, or of a resume: the next worker finishes the
case with no lost case, no doubled order change and no doubled message."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tests.agent_support import (
    Scripted,
    add_order,
    agent_pipeline,
    brand_row,
    mail,
    one,
    receive,
    verdict,
    work,
)
from tests.crash_worker import answer
from tidings.agent.decisions import new_decision, record_decision
from tidings.config import BrandsFile
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, EmailState
from tidings.store.models import Action, AuditEntry, Case, InboundEmail, Notification, Order

ROOT = Path(__file__).resolve().parent.parent
NEW = {"lines": ["No 7, 3rd Cross, Indiranagar"], "city": "Bengaluru", "postcode": "560038"}


def crash(tmp_path: Path, db_url: str, answers: dict[str, Any], kill: str) -> None:
    """Run a worker process that kills itself at ``kill``; wait out its 1 s lease."""
    config = tmp_path / f"crash-{kill}.json"
    config.write_text(json.dumps({"database_url": db_url, "answers": answers, "kill": kill}))
    done = subprocess.run(
        [sys.executable, "-m", "tests.crash_worker", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr[-2000:]  # it died at the kill point
    time.sleep(1.5)


def _scripted(answers: dict[str, Any]) -> Scripted:
    return Scripted({tag: answer(spec) for tag, spec in answers.items()})


def _counts(sessions: SessionFactory) -> tuple[int, int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Action)) or 0,
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "update_shipping_address")
            )
            or 0,
            session.scalar(select(func.count()).select_from(Notification)) or 0,
        )


class TestCrashMidGraph:
    def _move(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> tuple[int, dict[str, Any], str]:
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="c@example.com")
        email_id = receive(
            sessions, kapas, mail(sender="c@example.com", subject="[mv] x", body="x")
        )
        answers = {
            "[mv]": {
                "label": "address_change",
                "fields": {"order_id": order.number, "new_address": NEW},
            }
        }
        return email_id, answers, order.number

    def _finish_and_check(
        self,
        db_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        email_id: int,
        answers: dict[str, Any],
        number: str,
    ) -> None:
        with agent_pipeline(db_url, sessions, brands, _scripted(answers)) as built:
            report = work(sessions, built)
        assert report.dead == 0
        with sessions() as session:
            case = one(session, Case, email_id=email_id)
            email = session.get_one(InboundEmail, email_id)
            order = one(session, Order, number=number)
        assert case.state is CaseState.AUTO_RESOLVED and email.state is EmailState.RESOLVED
        assert order.shipping_address["postcode"] == "560038"
        assert _counts(sessions) == (1, 1, 1)  # one action, one change applied, one message

    def test_killed_after_the_order_changed_before_it_was_recorded(
        self, tmp_path: Path, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The riskiest moment: the order API applied the change, the agent never heard."""
        email_id, answers, number = self._move(sessions, brands)
        crash(tmp_path, db_url, answers, "order_write")
        actions, applied, messages = _counts(sessions)
        assert (actions, applied, messages) == (1, 1, 0)  # intent recorded, change applied
        self._finish_and_check(db_url, sessions, brands, email_id, answers, number)

    def test_killed_after_the_message_was_queued(
        self, tmp_path: Path, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Messages queued, the email not yet marked done: the rerun queues nothing twice."""
        email_id, answers, number = self._move(sessions, brands)
        crash(tmp_path, db_url, answers, "notify_commit")
        with sessions() as session:
            assert session.get_one(InboundEmail, email_id).state is EmailState.PARSED
        self._finish_and_check(db_url, sessions, brands, email_id, answers, number)


class TestCrashMidResume:
    def test_killed_while_applying_an_approval(
        self, tmp_path: Path, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A decided case whose resume died after queuing the reply: the reply goes once."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="r@example.com")
        email_id = receive(sessions, kapas, mail(sender="r@example.com", subject="[d] x", body="x"))
        answers = {"[d]": {"label": "damaged_item", "fields": {"order_id": order.number}}}
        with agent_pipeline(db_url, sessions, brands, _scripted(answers)) as built:
            work(sessions, built)
        with sessions() as session:
            case_id = one(session, Case, email_id=email_id).id
        with transaction(sessions) as session:
            record_decision(session, case_id=case_id, decision=new_decision("approve", by="asha"))
        crash(tmp_path, db_url, answers, "notify_commit")
        with agent_pipeline(db_url, sessions, brands, _scripted(answers)) as built:
            work(sessions, built)
        with sessions() as session:
            assert session.get_one(Case, case_id).state is CaseState.RESOLVED
            replies = session.scalars(select(Notification.event)).all()
        assert replies == ["case_reply"]

    def test_killed_while_a_relabel_changes_the_order(
        self, tmp_path: Path, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Re-labelled to address_change in review; the resume dies inside the order change;
        the next worker finishes it with one change and one message."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="l@example.com")
        email_id = receive(sessions, kapas, mail(sender="l@example.com", subject="[l] x", body="x"))
        answers = {
            "[l]": {
                "label": "other",
                "confidence": 0.5,
                "fields": {"order_id": order.number, "new_address": NEW},
            }
        }
        with agent_pipeline(db_url, sessions, brands, _scripted(answers)) as built:
            work(sessions, built)
        with sessions() as session:
            case_id = one(session, Case, email_id=email_id).id
        relabel = new_decision("relabel", by="asha", label="address_change")
        with transaction(sessions) as session:
            record_decision(session, case_id=case_id, decision=relabel)
        crash(tmp_path, db_url, answers, "order_write")
        with agent_pipeline(db_url, sessions, brands, _scripted(answers)) as built:
            work(sessions, built)
        with sessions() as session:
            assert session.get_one(Case, case_id).state is CaseState.AUTO_RESOLVED
        assert _counts(sessions) == (1, 1, 1)


def test_verdict_helper_is_shared() -> None:
    """The crash worker builds the same classifications as the in-process tests."""
    assert answer({"label": "wismo"}).label == verdict("wismo").label
