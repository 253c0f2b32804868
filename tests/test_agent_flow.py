"""The agent end to end: stored email -> case -> order action -> outbox rows (SQLite and
PostgreSQL), with a scripted classifier so each test pins one path of the graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.agent_support import (
    Scripted,
    add_order,
    agent_pipeline,
    brand_row,
    mail,
    one,
    receive,
    shipped_order,
    verdict,
    work,
)
from tidings.agent.decide import SWITCH_SECONDS
from tidings.agent.decisions import DecisionRefusedError, new_decision, record_decision
from tidings.channels.policy import SendPolicy
from tidings.config import BrandsFile
from tidings.domain import Address
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ActionOutcome, CaseState, EmailState, OrderStatus
from tidings.store.models import Action, Case, InboundEmail, Notification, Order
from tidings.store.switches import set_switch

NEW = Address(lines=["No 7, 3rd Cross, Indiranagar"], city="Bengaluru", postcode="560038")


def _case(sessions: SessionFactory, email_id: int) -> Case:
    with sessions() as session:
        return one(session, Case, email_id=email_id)


def _notices(sessions: SessionFactory) -> list[Notification]:
    with sessions() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


class TestResolves:
    def test_the_customer_moves_an_unshipped_order(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """address_change by the order's customer: the address changes once, with an action,
        an audit entry and an address_updated notice; the case is auto-resolved."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="meera@example.com")
        raw = mail(sender="Meera <Meera@Example.com>", subject="[move] new address", body="x")
        email_id = receive(sessions, kapas, raw)
        answer = verdict("address_change", order_id=order.number, new_address=NEW)
        with agent_pipeline(db_url, sessions, brands, Scripted({"[move]": answer})) as built:
            report = work(sessions, built)
        assert report.dead == 0
        case = _case(sessions, email_id)
        assert case.state is CaseState.AUTO_RESOLVED and case.sender_verified is True
        with sessions() as session:
            row = one(session, Order, number=order.number)
            action = one(session, Action, case_id=case.id)
            email = session.get_one(InboundEmail, email_id)
        assert row.shipping_address["postcode"] == "560038"
        assert row.shipping_address["state"] == "Karnataka"  # completed from the old address
        assert action.kind == "change_address" and action.outcome is ActionOutcome.SUCCEEDED
        assert email.state is EmailState.RESOLVED
        notices = _notices(sessions)
        assert [(n.event, n.recipient) for n in notices] == [
            ("address_updated", "meera@example.com")
        ]

    def test_someone_else_cannot_move_the_order(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """The same request from another address is escalated; nothing changes."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="meera@example.com")
        raw = mail(sender="Meera Iyer <meera.iyer.new@gmail.com>", subject="[move] x", body="x")
        email_id = receive(sessions, kapas, raw)
        answer = verdict("address_change", order_id=order.number, new_address=NEW)
        with agent_pipeline(db_url, sessions, brands, Scripted({"[move]": answer})) as built:
            work(sessions, built)
        case = _case(sessions, email_id)
        assert case.state is CaseState.ESCALATED and case.sender_verified is False
        assert "could not be verified" in "; ".join(case.escalation["reasons"])  # type: ignore[index]
        assert case.draft_reply and order.number in case.draft_reply
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Action)) == 0
            assert one(session, Order, number=order.number).shipping_address["postcode"] == "560001"
        assert _notices(sessions) == []

    def test_wismo_is_answered_from_the_shipment(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A customer's 'where is my order' gets the parcel's status in their language."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = shipped_order(session, kapas, "ravi@example.com")
        raw = mail(sender="ravi@example.com", subject="[wismo] kab aayega", body="x")
        email_id = receive(sessions, kapas, raw)
        answer = verdict("wismo", order_id=order.number, language="hi")
        with agent_pipeline(db_url, sessions, brands, Scripted({"[wismo]": answer})) as built:
            work(sessions, built)
        assert _case(sessions, email_id).state is CaseState.AUTO_RESOLVED
        [notice] = _notices(sessions)
        assert (notice.event, notice.language) == ("shipped", "hi")
        # An answer to the customer's own question: quiet hours and the weekly cap do not apply.
        assert notice.proactive is False and not SendPolicy().is_proactive(notice)
        assert notice.variables["shipment"]["tracking_number"].startswith("2384710")

    def test_cancellation_inside_the_window(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """An unshipped order placed 3 hours ago is cancelled; one placed 3 days ago is not."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            fresh = add_order(session, kapas, email="a@example.com")
            old = add_order(
                session, kapas, email="b@example.com", placed=utcnow() - timedelta(days=3)
            )
        first = receive(sessions, kapas, mail(sender="a@example.com", subject="[c1] x", body="x"))
        second = receive(sessions, kapas, mail(sender="b@example.com", subject="[c2] x", body="x"))
        script = Scripted(
            {
                "[c1]": verdict("cancellation_request", order_id=fresh.number),
                "[c2]": verdict("cancellation_request", order_id=old.number),
            }
        )
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert _case(sessions, first).state is CaseState.AUTO_RESOLVED
        assert _case(sessions, second).state is CaseState.ESCALATED
        with sessions() as session:
            assert one(session, Order, number=fresh.number).status is OrderStatus.CANCELLED
            assert one(session, Order, number=old.number).status is OrderStatus.CONFIRMED
        assert [n.event for n in _notices(sessions)] == ["cancellation_confirmed"]

    def test_reschedule_inside_the_window(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A delivery day inside the brand's window is booked; one outside gets options."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = shipped_order(session, kapas, "r@example.com")
        today = utcnow().date()
        day = today + timedelta(days=2)
        while day.weekday() == 6:  # the brand delivers Monday to Saturday
            day += timedelta(days=1)
        ok = receive(sessions, kapas, mail(sender="r@example.com", subject="[r1] x", body="x"))
        far = receive(sessions, kapas, mail(sender="r@example.com", subject="[r2] x", body="x"))
        script = Scripted(
            {
                "[r1]": verdict("delivery_reschedule", order_id=order.number, requested_date=day),
                "[r2]": verdict(
                    "delivery_reschedule",
                    order_id=order.number,
                    requested_date=today + timedelta(days=40),
                ),
            }
        )
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert _case(sessions, ok).state is CaseState.AUTO_RESOLVED
        assert _case(sessions, far).state is CaseState.AWAITING_CUSTOMER
        with sessions() as session:
            assert one(session, Order, number=order.number).delivery_date == day
        assert [n.event for n in _notices(sessions)] == [
            "reschedule_confirmed",
            "reschedule_options",
        ]


class TestCarrierThreads:
    def test_undeliverable_then_the_customers_reply_changes_the_address(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """A carrier's 'address not found' asks the customer; their reply to that notice threads
        back, becomes an address_change on it, and closes the first case."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="neha@example.com")
        carrier = receive(
            sessions,
            kapas,
            mail(sender="Delhivery <ndr@delhivery.com>", subject="[ndr] AWB", body="x"),
        )
        script = Scripted({"[ndr]": verdict("address_undeliverable", order_id=order.number)})
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
            assert _case(sessions, carrier).state is CaseState.AWAITING_CUSTOMER
            [ask] = _notices(sessions)
            assert ask.event == "address_confirmation_request"
            assert ask.proactive is True  # the carrier wrote: we speak first
            our_id = f"<{'a' * 24}.{ask.id}@kapas.example>"
            reply = mail(
                sender="neha@example.com", subject="Re: your address", body="x", in_reply_to=our_id
            )
            answer = verdict("other", 0.6, new_address=NEW)  # words the model cannot place
            script.answers["Re: your address"] = answer
            reply_id = receive(sessions, kapas, reply)
            work(sessions, built)
        child = _case(sessions, reply_id)
        assert child.category == "address_change" and child.state is CaseState.AUTO_RESOLVED
        assert child.parent_case_id == _case(sessions, carrier).id
        assert _case(sessions, carrier).state is CaseState.AUTO_RESOLVED
        with sessions() as session:
            assert one(session, Order, number=order.number).shipping_address["postcode"] == "560038"


class TestDecides:
    def test_archive_needs_certainty_for_a_customer(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """'other' from a carrier is archived; from a customer below the bar it is reviewed."""
        kapas = brand_row(sessions, brands)
        notice = receive(
            sessions, kapas, mail(sender="updates@delhivery.com", subject="[n] x", body="x")
        )
        unsure = receive(sessions, kapas, mail(sender="x@example.com", subject="[u] x", body="x"))
        script = Scripted({"[n]": verdict("other", 0.9), "[u]": verdict("other", 0.95)})
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert _case(sessions, notice).state is CaseState.ARCHIVED
        assert _case(sessions, unsure).state is CaseState.ESCALATED

    def test_kill_switch_turns_actions_into_escalations(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """With the brand's switch engaged the same request is escalated; released, resolved."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="k@example.com")
            set_switch(session, engaged=True, by="test", brand="kapas")
        first = receive(sessions, kapas, mail(sender="k@example.com", subject="[k1] x", body="x"))
        answer = verdict("address_change", order_id=order.number, new_address=NEW)
        script = Scripted({"[k1]": answer, "[k2]": answer})
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
            assert _case(sessions, first).state is CaseState.ESCALATED
            with transaction(sessions) as session:
                set_switch(session, engaged=False, by="test", brand="kapas")
            time.sleep(SWITCH_SECONDS + 0.1)  # workers read switches once a second
            second = receive(
                sessions, kapas, mail(sender="k@example.com", subject="[k2] x", body="x")
            )
            work(sessions, built)
        assert _case(sessions, second).state is CaseState.AUTO_RESOLVED
        escalation = _case(sessions, first).escalation or {}
        assert "kill switch" in "; ".join(escalation.get("reasons", []))


class TestReview:
    def _escalated(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile, subject: str
    ) -> tuple[int, Scripted]:
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            address = f"{subject.strip('[]')}@example.com"
            order = add_order(session, kapas, email=address)
        email_id = receive(sessions, kapas, mail(sender=address, subject=subject, body="x"))
        script = Scripted({subject: verdict("damaged_item", order_id=order.number)})
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        return email_id, script

    def test_approve_sends_the_draft_once(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Approving queues the draft as the brand's case_reply; a second decision is refused."""
        email_id, script = self._escalated(db_url, sessions, brands, "[dmg]")
        case = _case(sessions, email_id)
        assert case.state is CaseState.ESCALATED and case.draft_reply
        with transaction(sessions) as session:
            record_decision(session, case_id=case.id, decision=new_decision("approve", by="asha"))
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
            work(sessions, built)  # nothing more to do
        case = _case(sessions, email_id)
        assert case.state is CaseState.RESOLVED
        [reply] = _notices(sessions)
        assert reply.event == "case_reply" and reply.variables["case"]["reply"] == case.draft_reply

    def test_edit_reject_relabel_and_reassign(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Each decision does what it says, through the same resume path."""
        edited, script = self._escalated(db_url, sessions, brands, "[e]")
        rejected, _ = self._escalated(db_url, sessions, brands, "[rej]")
        relabelled, _ = self._escalated(db_url, sessions, brands, "[rel]")
        moved, _ = self._escalated(db_url, sessions, brands, "[mv]")
        for email_id, decision in [
            (edited, new_decision("edit", by="asha", reply="Please send a photo of the lamp.")),
            (rejected, new_decision("reject", by="asha")),
            (relabelled, new_decision("relabel", by="asha", label="wismo")),
            (moved, new_decision("reassign", by="asha", assignee="ravi")),
        ]:
            with transaction(sessions) as session:
                record_decision(session, case_id=_case(sessions, email_id).id, decision=decision)
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        assert _case(sessions, edited).state is CaseState.RESOLVED
        assert _case(sessions, rejected).state is CaseState.REJECTED
        relabel = _case(sessions, relabelled)
        assert relabel.category == "wismo" and relabel.confidence == 1.0
        assert relabel.state is CaseState.AUTO_RESOLVED  # wismo resolves for the owner
        reassigned = _case(sessions, moved)
        assert reassigned.state is CaseState.ESCALATED and reassigned.assignee == "ravi"
        replies = [n for n in _notices(sessions) if n.event == "case_reply"]
        assert [r.variables["case"]["reply"] for r in replies] == [
            "Please send a photo of the lamp."
        ]


class TestDecisionFence:
    def test_a_decision_never_races_a_worker(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """While a worker holds the case (or its email is still being worked) a decision is
        refused and changes nothing; once free, it is taken."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="f@example.com")
        email_id = receive(sessions, kapas, mail(sender="f@example.com", subject="[f] x", body="x"))
        script = Scripted({"[f]": verdict("damaged_item", order_id=order.number)})
        with agent_pipeline(db_url, sessions, brands, script) as built:
            work(sessions, built)
        case_id = _case(sessions, email_id).id
        held = {"lease_owner": "worker-2", "lease_expires_at": utcnow() + timedelta(minutes=1)}
        for model, row_id in ((Case, case_id), (InboundEmail, email_id)):
            with transaction(sessions) as session:
                session.execute(update(model).where(model.id == row_id).values(**held))
            with (
                pytest.raises(DecisionRefusedError, match="being worked on"),
                transaction(sessions) as session,
            ):
                record_decision(
                    session, case_id=case_id, decision=new_decision("approve", by="asha")
                )
            assert _case(sessions, email_id).state is CaseState.ESCALATED
            with transaction(sessions) as session:
                free = {"lease_owner": None, "lease_expires_at": None}
                session.execute(update(model).where(model.id == row_id).values(**free))
        with transaction(sessions) as session:
            record_decision(session, case_id=case_id, decision=new_decision("approve", by="asha"))
        assert _case(sessions, email_id).state is CaseState.DECIDED


class TestTraceability:
    def test_every_log_line_of_a_run_names_the_case_and_the_message(
        self, db_url: str, sessions: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A real worker's log lines from inside the graph carry case_id, email_id and the
        Message-ID (JSON logs, as a deployment reads them)."""
        kapas = brand_row(sessions, brands)
        with transaction(sessions) as session:
            order = add_order(session, kapas, email="t@example.com")
            order.lines[0].name = "Lamp"
        raw = mail(sender="t@example.com", subject=f"Broken {order.number}", body="It broke.")
        email_id = receive(sessions, kapas, raw)
        env = {
            **os.environ,
            "TIDINGS_DATABASE_URL": db_url,
            "TIDINGS_LOG_LEVEL": "INFO",
            "TIDINGS_LOG_JSON": "true",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),  # this checkout's code
        }
        done = subprocess.run(
            [sys.executable, "-m", "tidings", "worker", "--once"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        ours = [line for line in lines if line.get("event", "").startswith("case ")]
        with sessions() as session:
            case = one(session, Case, email_id=email_id)
            message_id = session.get_one(InboundEmail, email_id).message_id
        assert ours, done.stdout[-2000:]
        for line in ours:
            assert (line["case_id"], line["email_id"]) == (case.id, email_id)
            assert line["message_id"] == message_id
