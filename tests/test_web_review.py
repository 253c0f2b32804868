"""The review queue through its JSON API and its pages, on SQLite and PostgreSQL: cases the real
agent escalated, decisions recorded through the web and applied by a real worker pass, the audit
log, bulk approval, drafts, previews and re-runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from tests.review_support import HOSTILE_HTML, REMOTE_PIXEL, Review
from tests.web_support import Web, running_app
from tidings.agent.sla import DEFAULT_SLA_HOURS, due, sla_hours
from tidings.config import BrandsFile
from tidings.config.settings import AgentSettings
from tidings.store.base import utcnow
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, EmailState
from tidings.store.models import AuditEntry, Case, HumanLabel, InboundEmail, Notification


@pytest.fixture
def web(engine: Engine, db_url: str) -> Iterator[Web]:
    """The app with one user per role (and the demo brands as rows)."""
    with running_app(engine, database_url=db_url) as running:
        yield running


@pytest.fixture
def review(web: Web, db_url: str, brands: BrandsFile) -> Review:
    """Escalations for the test to make."""
    return Review(db_url=db_url, sessions=web.sessions, brands=brands)


def _case(sessions: SessionFactory, case_id: int) -> Case:
    with sessions() as session:
        return session.get_one(Case, case_id)


def _audit(sessions: SessionFactory, case_id: int) -> list[tuple[str, str]]:
    with sessions() as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "case", AuditEntry.entity_id == str(case_id))
            .order_by(AuditEntry.id)
        )
        return [(row.actor, row.action) for row in rows]


class TestSla:
    def test_brand_beats_settings_beats_defaults(self, brands: BrandsFile) -> None:
        """A brand's policies.sla_hours wins, then TIDINGS_AGENT__SLA_HOURS, then the default;
        the due time counts from the email's arrival."""
        kapas = brands.brands[0].model_copy(deep=True)
        settings = AgentSettings(sla_hours={"wismo": 1.5})
        assert sla_hours("damaged_item", None, AgentSettings()) == DEFAULT_SLA_HOURS["damaged_item"]
        assert sla_hours("wismo", None, settings) == 1.5
        kapas.policies.sla_hours = {"wismo": 0.5}
        arrived = utcnow()
        assert due("wismo", kapas, settings, arrived=arrived).at == arrived + timedelta(hours=0.5)
        assert due("address_change", kapas, settings, arrived=arrived).priority == 1


class TestQueue:
    def test_ordered_by_due_time_then_priority_with_counts(self, web: Web, review: Review) -> None:
        """Cases come by due time (each category's SLA from the email's arrival), whatever
        order they arrived in; every filter value is counted under the other filters."""
        damaged = review.escalate("[dmg]", "damaged_item")  # 24 h
        payment = review.escalate("[pay]", "payment_issue", brand="seri")  # 8 h
        moving = review.escalate("[mv]", "address_change", confidence=0.5, language="hi")  # 2 h
        with closing(web.login("ops")) as ops:
            page = ops.get("/api/cases").json()
            assert [item["id"] for item in page["items"]] == [moving, payment, damaged]
            assert page["total"] == 3 and page["overdue"] == 0
            first = page["items"][0]
            assert first["category"] == "address_change" and first["language"] == "hi"
            assert "unsure" in first["reason"]
            facets = {k: {c["value"]: c["count"] for c in v} for k, v in page["facets"].items()}
            assert facets["brand"] == {"kapas": 2, "seri": 1}
            assert facets["assignee"] == {"-": 3}
            assert facets["age"] == {"lt1h": 3}
            kapas = ops.get("/api/cases", params={"brand": "kapas"}).json()
            assert [item["id"] for item in kapas["items"]] == [moving, damaged]
            counts = {c["value"]: c["count"] for c in kapas["facets"]["category"]}
            assert counts == {"address_change": 1, "damaged_item": 1}  # brand applied
            brands = {c["value"]: c["count"] for c in kapas["facets"]["brand"]}
            assert brands == {"kapas": 2, "seri": 1}  # its own filter is not
            older = ops.get("/api/cases", params={"age": "gt24h"}).json()
            assert older["total"] == 0
            assert ops.get("/api/cases", params={"age": "soon"}).status_code == 422

    def test_overdue_cases_come_first_and_are_counted(self, web: Web, review: Review) -> None:
        """A case past its due time is overdue, at the top, whatever its category."""
        late = review.escalate("[late]", "damaged_item")
        fresh = review.escalate("[new]", "address_change", confidence=0.5)
        with transaction(web.sessions) as session:
            session.execute(
                update(Case).where(Case.id == late).values(due_at=utcnow() - timedelta(hours=1))
            )
        with closing(web.login("ops")) as ops:
            page = ops.get("/api/cases").json()
        assert [item["id"] for item in page["items"]] == [late, fresh]
        assert page["overdue"] == 1 and page["items"][0]["overdue"] is True

    def test_brand_managers_keep_out(self, web: Web, review: Review) -> None:
        """Brand managers may not use the queue; ops and admins may."""
        review.escalate("[dmg]", "damaged_item")
        with closing(web.login("kapas-manager")) as manager:
            assert manager.get("/api/cases").status_code == 403
        with closing(web.login("admin")) as admin:
            assert admin.get("/api/cases").json()["total"] == 1


class TestCasePage:
    def test_everything_about_the_case(self, web: Web, review: Review) -> None:
        """The email's HTML without script, handlers, styles, hidden text or the remote
        pixel; the order and parcel; classification; why; the trail; the draft."""
        case_id = review.escalate("[dmg]", "damaged_item", html=HOSTILE_HTML)
        with closing(web.login("ops")) as ops:
            found = ops.get(f"/api/cases/{case_id}").json()
            assert ops.get("/api/cases/987654").status_code == 404
        html = found["email_html"]
        assert "<b>broken</b>" in html and "[image: logo]" in html
        for bad in ("script", "onclick", "style", "Ignore previous", "javascript:", REMOTE_PIXEL):
            assert bad not in html, bad
        assert found["blocked_images"] == 1
        case = found["case"]
        assert case["category"] == "damaged_item" and case["draft_reply"]
        assert any("policy" in reason for reason in case["escalation"]["reasons"])
        assert [e["kind"] for e in case["trail"]][:2] == ["classify", "match"]
        order = found["order"]["order"]
        assert order["number"] == case["order"] and found["order"]["shipments"]
        assert found["due_at"] and found["waiting"] is True

    def test_the_page_renders_for_ops(self, web: Web, review: Review) -> None:
        """The HTML page shows the email safely, the draft in the editor and the actions."""
        case_id = review.escalate("[dmg]", "damaged_item", html=HOSTILE_HTML)
        with closing(web.login("ops")) as ops:
            page = ops.get(
                f"/cases/{case_id}?category=damaged_item", headers={"Accept": "text/html"}
            )
            queue = ops.get("/queue", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "<b>broken</b>" in page.text and "<script>alert" not in page.text
        assert 'data-testid="approve-next"' in page.text
        assert 'name="queue" value="category=damaged_item"' in page.text
        assert f'href="/cases/{case_id}"' in queue.text

    def test_preview_per_channel(self, web: Web, review: Review) -> None:
        """The reply as the brand's case_reply on email, WhatsApp and SMS, with the text."""
        case_id = review.escalate("[dmg]", "damaged_item")
        with closing(web.login("ops")) as ops:
            before = ops.post(f"/api/cases/{case_id}/preview", json={"text": "Photo please."})
            review.load_templates()
            shown = ops.post(f"/api/cases/{case_id}/preview", json={"text": "Photo please."})
        assert all("template" in p["error"] for p in before.json())  # none loaded: says so
        previews = {p["channel"]: p for p in shown.json()}
        assert set(previews) == {"email", "whatsapp", "sms"}
        assert "Photo please." in previews["email"]["text"]
        assert f"CASE-{case_id}" in previews["email"]["subject"]
        assert "Photo please." in previews["sms"]["text"]


class TestDecisions:
    def test_approve_goes_out_after_a_worker_pass(self, web: Web, review: Review) -> None:
        """Approve records the decision with the user in the audit log; the worker sends the
        draft as the case_reply; a second decision is refused."""
        case_id = review.escalate("[dmg]", "damaged_item")
        draft = _case(web.sessions, case_id).draft_reply
        with closing(web.login("ops")) as ops:
            answer = ops.post(f"/api/cases/{case_id}/decision", json={"action": "approve"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["by"] == "web:ops"
            assert _case(web.sessions, case_id).state is CaseState.DECIDED
            again = ops.post(f"/api/cases/{case_id}/decision", json={"action": "approve"})
            assert again.status_code == 409 and "decided" in again.json()["detail"]
        review.run()
        assert _case(web.sessions, case_id).state is CaseState.RESOLVED
        assert ("web:ops", "decision:approve") in _audit(web.sessions, case_id)
        with web.sessions() as session:
            [reply] = session.scalars(select(Notification).where(Notification.case_id == case_id))
        assert reply.event == "case_reply" and reply.variables["case"]["reply"] == draft

    def test_edit_relabel_assign_resolve(self, web: Web, review: Review) -> None:
        """Each action goes through the agent's resume path: an edit sends the edit, a
        re-label lands in human_labels, an assignment comes back to the queue, resolve
        closes without a reply."""
        edited = review.escalate("[e]", "damaged_item")
        relabelled = review.escalate("[rl]", "damaged_item")
        assigned = review.escalate("[as]", "damaged_item")
        resolved = review.escalate("[rs]", "damaged_item")
        with closing(web.login("admin")) as admin:
            for case_id, body in [
                (edited, {"action": "edit", "reply": "Please send a photo."}),
                (relabelled, {"action": "relabel", "label": "wrong_or_missing_item"}),
                (assigned, {"action": "reassign", "assignee": "ops"}),
                (resolved, {"action": "resolve"}),
            ]:
                answer = admin.post(f"/api/cases/{case_id}/decision", json=body)
                assert answer.status_code == 200, answer.text
        review.run()
        with web.sessions() as session:
            replies = session.scalars(select(Notification).where(Notification.case_id == edited))
            assert [r.variables["case"]["reply"] for r in replies] == ["Please send a photo."]
            label = session.scalars(select(HumanLabel).where(HumanLabel.case_id == relabelled))
            assert [(h.label, h.labeller) for h in label] == [
                ("wrong_or_missing_item", "web:admin")
            ]
            sent = session.scalars(select(Notification).where(Notification.case_id == resolved))
            assert list(sent) == []
        assert _case(web.sessions, relabelled).category == "wrong_or_missing_item"
        back = _case(web.sessions, assigned)
        assert back.state is CaseState.ESCALATED and back.assignee == "ops"
        assert _case(web.sessions, resolved).state is CaseState.RESOLVED
        with closing(web.login("ops")) as ops:
            mine = ops.get("/api/cases", params={"assignee": "ops"}).json()
        assert [item["id"] for item in mine["items"]] == [assigned]

    def test_refusals_say_why(self, web: Web, review: Review) -> None:
        """Bad input is 422, a case that cannot take the decision now 409, none 404."""
        case_id = review.escalate("[dmg]", "damaged_item")
        with closing(web.login("ops")) as ops:
            url = f"/api/cases/{case_id}/decision"
            unknown = ops.post(url, json={"action": "relabel", "label": "nonsense"})
            assert unknown.status_code == 422 and "unknown category" in unknown.json()["detail"]
            stranger = ops.post(url, json={"action": "reassign", "assignee": "kapas-manager"})
            assert stranger.status_code == 422 and "ops or admin" in stranger.json()["detail"]
            empty = ops.post(url, json={"action": "edit", "reply": "  "})
            assert empty.status_code == 422
            assert ops.post(url, json={"action": "fly"}).status_code == 422
            missing = ops.post("/api/cases/987654/decision", json={"action": "approve"})
            assert missing.status_code == 404
        assert _case(web.sessions, case_id).state is CaseState.ESCALATED
        assert _audit(web.sessions, case_id) == []

    def test_a_stale_draft_is_not_approved_as_it_stands(self, web: Web, review: Review) -> None:
        """After a newer email on the thread, approving the old draft is refused; an edit (or
        a saved draft) goes."""
        case_id = review.escalate("[dmg]", "damaged_item")
        with transaction(web.sessions) as session:
            session.execute(update(Case).where(Case.id == case_id).values(draft_stale=True))
        with closing(web.login("ops")) as ops:
            url = f"/api/cases/{case_id}/decision"
            stale = ops.post(url, json={"action": "approve"})
            assert stale.status_code == 409 and "stale" in stale.json()["detail"]
            saved = ops.put(f"/api/cases/{case_id}/draft", json={"text": "  Both emails: yes. "})
            assert saved.status_code == 200 and saved.json()["draft"] == "Both emails: yes."
            assert ops.post(url, json={"action": "approve"}).status_code == 200
        review.run()
        assert ("web:ops", "draft:edit") in _audit(web.sessions, case_id)
        with web.sessions() as session:
            [reply] = session.scalars(select(Notification).where(Notification.case_id == case_id))
        assert reply.variables["case"]["reply"] == "Both emails: yes."

    def test_bulk_approve_within_one_category(self, web: Web, review: Review) -> None:
        """Cases of the named category are approved; another category's case is left, with
        the reason, and so is one already decided."""
        first = review.escalate("[d1]", "damaged_item")
        second = review.escalate("[d2]", "damaged_item")
        other = review.escalate("[p1]", "payment_issue")
        with closing(web.login("ops")) as ops:
            ops.post(f"/api/cases/{second}/decision", json={"action": "resolve"})
            body = {"category": "damaged_item", "ids": [first, second, other]}
            done = ops.post("/api/cases/approve", json=body).json()
            too_many = ops.post("/api/cases/approve", json={"category": "x", "ids": []})
        assert done["approved"] == [first]
        assert set(done["refused"]) == {str(second), str(other)}
        assert "payment_issue" in done["refused"][str(other)]
        assert too_many.status_code == 422
        assert _case(web.sessions, other).state is CaseState.ESCALATED
        assert ("web:ops", "decision:approve") in _audit(web.sessions, first)

    def test_rerun_takes_the_case_through_the_agent_again(self, web: Web, review: Review) -> None:
        """Re-run leaves review, queues the email for the agent, and the next worker pass
        escalates it afresh (a new draft); a second re-run meanwhile is refused."""
        case_id = review.escalate("[dmg]", "damaged_item")
        with transaction(web.sessions) as session:
            session.execute(update(Case).where(Case.id == case_id).values(draft_reply="old"))
        with closing(web.login("ops")) as ops:
            answer = ops.post(f"/api/cases/{case_id}/rerun")
            assert answer.status_code == 200, answer.text
            case = _case(web.sessions, case_id)
            assert case.state is CaseState.OPEN
            with web.sessions() as session:
                email = session.get_one(InboundEmail, case.email_id)
            assert email.state is EmailState.PARSED
            assert ops.post(f"/api/cases/{case_id}/rerun").status_code == 409
        review.run()
        case = _case(web.sessions, case_id)
        assert case.state is CaseState.ESCALATED and case.draft_reply not in (None, "old")
        assert ("web:ops", "rerun") in _audit(web.sessions, case_id)


class TestPages:
    def test_approve_and_next_follows_the_filtered_queue(self, web: Web, review: Review) -> None:
        """The page's "approve and next" records the approval and lands on the next case of
        the queue the person was working (its filters kept); the last one goes back to the
        queue with a message."""
        first = review.escalate("[d1]", "damaged_item")
        review.escalate("[p1]", "payment_issue")
        second = review.escalate("[d2]", "damaged_item")
        with closing(web.login("ops")) as ops:
            page = ops.get(f"/cases/{first}?category=damaged_item", headers={"Accept": "text/html"})
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            form = {
                "csrf_token": token.group(1),
                "action": "approve",
                "queue": "category=damaged_item",
            }
            answer = ops.post(f"/cases/{first}/decision?then=next", data=form)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith(f"/cases/{second}?category=damaged_item")
            last = ops.post(f"/cases/{second}/decision?then=next", data=form)
            assert last.headers["location"].startswith("/queue?category=damaged_item&done=")
            shown = ops.get(last.headers["location"], headers={"Accept": "text/html"})
        assert f"Case {second} approved" in shown.text
        assert _case(web.sessions, first).state is CaseState.DECIDED

    def test_an_edited_reply_approved_from_the_page_is_an_edit(
        self, web: Web, review: Review
    ) -> None:
        """Approving after changing the text in the editor sends the person's text."""
        case_id = review.escalate("[dmg]", "damaged_item")
        draft = _case(web.sessions, case_id).draft_reply or ""
        with closing(web.login("ops")) as ops:
            page = ops.get(f"/cases/{case_id}", headers={"Accept": "text/html"})
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            form = {
                "csrf_token": token.group(1),
                "action": "approve",
                "original": draft.replace("\n", "\r\n"),
                "reply": "We are sorry. A new lamp is on its way.",
            }
            assert ops.post(f"/cases/{case_id}/decision", data=form).status_code == 303
        decision = _case(web.sessions, case_id).decision or {}
        assert decision["action"] == "edit" and decision["reply"].startswith("We are sorry")

    def test_two_people_on_one_draft(self, web: Web, review: Review) -> None:
        """What a person approves or saves is the draft they read: once someone else saved
        another, both are refused (nothing decided, the other's draft kept) until they read it."""
        case_id = review.escalate("[dmg]", "damaged_item")
        draft = _case(web.sessions, case_id).draft_reply or ""
        with closing(web.login("ops")) as ops, closing(web.login("admin")) as admin:
            page = ops.get(f"/cases/{case_id}", headers={"Accept": "text/html"})
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            theirs = admin.put(
                f"/api/cases/{case_id}/draft", json={"text": "Admin's reply.", "base": draft}
            )
            assert theirs.status_code == 200
            form = {"csrf_token": token.group(1), "original": draft, "reply": draft}
            approved = ops.post(f"/cases/{case_id}/decision", data={**form, "action": "approve"})
            assert "the draft changed since you opened the case" in approved.text
            saved = ops.post(
                f"/cases/{case_id}/draft",
                data={**form, "reply": "Ops' version."},
                headers={"HX-Request": "true"},
            )
            assert "the draft changed since you opened the case" in saved.text
            assert _case(web.sessions, case_id).state is CaseState.ESCALATED
            assert _case(web.sessions, case_id).draft_reply == "Admin's reply."
            url = f"/api/cases/{case_id}/decision"
            assert ops.post(url, json={"action": "approve", "draft_seen": draft}).status_code == 409
            # Read again, then saved: the page's copy becomes the saved draft, so the next save
            # and the approval start from it.
            current = {**form, "original": "Admin's reply."}
            first = ops.post(
                f"/cases/{case_id}/draft",
                data={**current, "reply": "Ops' version."},
                headers={"HX-Request": "true"},
            )
            assert "Draft saved." in first.text
            assert 'id="original" value="Ops&#39; version."' in first.text
            again = {**form, "original": "Ops' version.", "reply": "Ops' version."}
            assert ops.post(f"/cases/{case_id}/decision", data={**again, "action": "approve"})
        assert _case(web.sessions, case_id).decision["action"] == "approve"  # type: ignore[index]
