"""The template editor over real HTTP, on SQLite and PostgreSQL: the matrix, saving, validation,
publishing, rollback, diffs, previews and WhatsApp approval through ``/api/templates`` and the
pages, and who may touch which brand's templates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from tests.web_support import Web, running_app
from tidings.channels.whatsapp import TemplateDefinition, define_template
from tidings.config import BrandsFile
from tidings.store.db import transaction
from tidings.store.enums import ChannelKind
from tidings.store.models import AuditEntry, TemplateVersion, WhatsAppApproval
from tidings.templates import store
from tidings.templates.contract import EVENTS
from tidings.templates.render import render_message
from tidings.templates.store import TemplateKey

SHIPPED = "{{ customer.first_name }}, {{ order.number }} has shipped."
HINDI = "नमस्ते {{ customer.first_name }}, ऑर्डर {{ order.number }} निकल पड़ा है।"
DELAYED = "Sorry {{ customer.first_name }}, {{ order.number }} is running late."
SLOT = "/api/templates/kapas/shipped/sms/hi"
KEY = "kapas/shipped/sms/hi"


def publish(web: Web, key: TemplateKey, body: str, *, draft: str | None = None) -> None:
    """Save and publish ``body`` in a slot; then save ``draft`` on top, unpublished."""
    with transaction(web.sessions) as session:
        saved = store.save_draft(session=session, key=key, body=body, author="seed")
        store.publish(session=session, key=key, version=saved.version.version)
        if draft is not None:
            store.save_draft(session=session, key=key, body=draft, author="seed")


def sms(brand: str | None, language: str, event: str = "shipped") -> TemplateKey:
    """An SMS slot."""
    return TemplateKey(brand=brand, event=event, channel=ChannelKind.SMS, language=language)


def whatsapp(brand: str | None, language: str, event: str = "delayed") -> TemplateKey:
    """A WhatsApp slot."""
    return TemplateKey(brand=brand, event=event, channel=ChannelKind.WHATSAPP, language=language)


@pytest.fixture
def web(engine: Engine) -> Iterator[Web]:
    """The app with one user per role and a few templates: the default copy in English and
    Hindi, kapas's own English (with a draft on top), seri's own, and WhatsApp approvals."""
    with running_app(engine) as running:
        publish(running, sms(None, "en"), "Hi " + SHIPPED)
        publish(running, sms(None, "hi"), HINDI)
        publish(running, sms(None, "hi", "delivered"), HINDI.replace("निकल पड़ा", "पहुँच गया"))
        publish(running, sms("kapas", "en"), "Hey " + SHIPPED, draft="Hello " + SHIPPED)
        publish(running, sms("seri", "en"), "Hai " + SHIPPED)
        publish(running, whatsapp(None, "en"), DELAYED)
        with transaction(running.sessions) as session:
            for language, status in (("en", WhatsAppApproval.APPROVED), ("hi", None)):
                row = define_template(
                    session=session,
                    definition=TemplateDefinition(
                        brand="kapas",
                        event="delayed",
                        language=language,
                        body="Order {{1}} is late.",
                        variables=["order.number"],
                    ),
                )
                row.approval_status = status or WhatsAppApproval.REJECTED
                row.rejection_reason = None if status else "INVALID_FORMAT: a variable at the end"
        yield running


@contextmanager
def as_user(web: Web, name: str) -> Iterator[httpx.Client]:
    """A client logged in as ``name``, closed afterwards."""
    client = web.login(name)
    try:
        yield client
    finally:
        client.close()


def cell(matrix: dict[str, Any], event: str, channel: str, language: str) -> dict[str, Any]:
    """One cell of a matrix from the API."""
    found = [
        c
        for c in matrix["cells"]
        if (c["event"], c["channel"], c["language"]) == (event, channel, language)
    ]
    assert len(found) == 1
    return found[0]


def versions(web: Web) -> int:
    """How many template versions the database holds."""
    with transaction(web.sessions) as session:
        return session.scalar(select(func.count()).select_from(TemplateVersion)) or 0


class TestMatrix:
    def test_cells_say_what_customers_get(self, web: Web) -> None:
        """Own copy, the default copy in the same language, another language (a missing
        translation: kapas's own English comes before the default Hindi on the chain),
        nothing at all; drafts waiting; WhatsApp approval per language."""
        with as_user(web, "kapas-manager") as client:
            (kapas,) = client.get("/api/templates", params={"brand": "kapas"}).json()
        assert kapas["brand"] == "kapas" and kapas["languages"] == ["en", "hi"]
        own = cell(kapas, "shipped", "sms", "en")
        assert (own["state"], own["published"], own["draft"]) == ("own", 1, 2)
        english = cell(kapas, "shipped", "sms", "hi")
        assert (english["state"], english["source"]) == ("untranslated", "kapas/en v1")
        inherited = cell(kapas, "delivered", "sms", "hi")
        assert (inherited["state"], inherited["source"]) == ("inherited", "_default/hi v1")
        assert cell(kapas, "delivered", "sms", "en")["state"] == "missing"
        assert cell(kapas, "delayed", "whatsapp", "en")["state"] == "inherited"
        untranslated = cell(kapas, "delayed", "whatsapp", "hi")
        assert untranslated["state"] == "untranslated"
        assert untranslated["source"] == "_default/en v1"
        assert untranslated["whatsapp"]["approval"] == "rejected"
        assert "INVALID_FORMAT" in untranslated["whatsapp"]["rejection_reason"]
        assert cell(kapas, "delayed", "whatsapp", "en")["whatsapp"]["approval"] == "approved"
        assert cell(kapas, "shipped", "whatsapp", "en")["whatsapp"] is None
        assert cell(kapas, "shipped", "email", "en")["state"] == "missing"
        assert len(kapas["cells"]) == len(EVENTS) * 2 * 3

    def test_brand_managers_see_only_their_brands(self, web: Web) -> None:
        """Without ``brand``, a brand manager gets their brands; an admin every brand and the
        default copy."""
        with as_user(web, "kapas-manager") as client:
            assert [m["brand"] for m in client.get("/api/templates").json()] == ["kapas"]
        with as_user(web, "admin") as client:
            scopes = [m["brand"] for m in client.get("/api/templates").json()]
        assert scopes == ["griha", "kapas", "seri", "_default"]

    def test_matrix_page_flags_missing_translations(self, web: Web) -> None:
        """The page marks every cell with its state, and counts what needs a look."""
        with as_user(web, "kapas-manager") as client:
            page = client.get("/templates", headers={"Accept": "text/html"})
        assert page.status_code == 200
        states = dict(re.findall(r'data-cell="([^"]+)" data-state="(\w+)"', page.text))
        assert states["delayed/whatsapp/hi"] == "untranslated"
        assert states["shipped/email/en"] == "missing"
        assert states["shipped/sms/hi"] == "untranslated"
        assert states["delivered/sms/hi"] == "inherited"
        assert states["shipped/sms/en"] == "own"
        assert 'data-brand="seri"' not in page.text  # no tab for another brand
        counts = re.search(r'data-testid="count-untranslated"><b>(\d+)</b>', page.text)
        assert counts is not None and int(counts.group(1)) == sum(
            1 for state in states.values() if state == "untranslated"
        )


class TestAccess:
    def test_another_brands_templates_are_refused(self, web: Web) -> None:
        """kapas's manager can neither read nor change seri's templates or the default copy,
        by session or by token: 403, and nothing is written."""
        before = versions(web)
        token = web.token("kapas-manager")
        session_client = web.login("kapas-manager")
        token_client = web.client(headers={"Authorization": f"Bearer {token}"})
        new = {"brand": "seri", "event": "shipped", "channel": "sms", "language": "en"}
        for client in (session_client, token_client):
            for method, url, body in (
                ("GET", "/api/templates?brand=seri", None),
                ("GET", "/api/templates/seri/shipped/sms/en", None),
                ("GET", "/api/templates/seri/shipped/sms/en/diff?old=1&new=1", None),
                ("GET", "/api/templates/_default/shipped/sms/en", None),
                ("POST", "/api/templates", {**new, "body": "Hi " + SHIPPED}),
                ("POST", "/api/templates", {**new, "brand": "_default", "body": "x"}),
                ("POST", "/api/templates/preview", {**new, "body": "Hi " + SHIPPED}),
                ("POST", "/api/templates/seri/shipped/sms/en/publish", {"version": 1}),
                ("POST", "/api/templates/seri/shipped/sms/en/rollback", {"to_version": 1}),
            ):
                answer = client.request(method, url, json=body)
                assert answer.status_code == 403, (method, url, answer.text)
                assert "kapas" in answer.json()["detail"]
        for path in ("/templates?brand=seri", "/templates/seri/shipped/sms/en"):
            page = session_client.get(path, headers={"Accept": "text/html"})
            assert page.status_code == 403 and "You do not have access" in page.text
            assert "Hai " not in page.text  # seri's words never reach the page
        session_client.close()
        token_client.close()
        assert versions(web) == before

    def test_ops_cannot_use_the_editor(self, web: Web) -> None:
        """Ops get 403 from the editor's pages and API alike."""
        with as_user(web, "ops") as client:
            assert client.get("/api/templates").status_code == 403
            page = client.get("/templates/kapas/shipped/sms/hi", headers={"Accept": "text/html"})
            assert page.status_code == 403
            assert "Templates" not in re.findall(r"<nav.*?</nav>", page.text, re.S)[0]

    def test_admins_edit_the_default_copy(self, web: Web) -> None:
        """An admin saves a version of the default copy (brand ``_default``)."""
        with as_user(web, "admin") as client:
            answer = client.post(
                "/api/templates",
                json={
                    "brand": "_default",
                    "event": "shipped",
                    "channel": "sms",
                    "language": "en",
                    "body": "Hello " + SHIPPED,
                    "base_version": 1,
                },
            )
        assert answer.status_code == 201, answer.text
        assert answer.json()["version"]["version"] == 2


class TestVersions:
    def test_save_publish_diff_and_rollback(self, web: Web, brands: BrandsFile) -> None:
        """A Hindi SMS of kapas's own: saved as a draft (Hindi speakers still get kapas's
        English), published (they get Hindi), changed, then rolled back to the first text;
        each step in the audit log with who did it."""
        kapas = brands.get("kapas")
        slot = {"brand": "kapas", "event": "shipped", "channel": "sms", "language": "hi"}
        first = HINDI.replace("नमस्ते", "हाय")
        with as_user(web, "kapas-manager") as client:
            saved = client.post(
                "/api/templates", json={**slot, "body": first, "base_version": 0, "note": "own"}
            )
            assert saved.status_code == 201, saved.text
            assert saved.json()["version"]["status"] == "draft"
            assert rendered(web, kapas).startswith("Hey ")  # a draft reaches nobody
            published = client.post(f"{SLOT}/publish", json={"version": 1})
            assert published.json()["status"] == "published"
            assert rendered(web, kapas).startswith("हाय")
            second = client.post(
                "/api/templates",
                json={**slot, "body": first + " 🙂", "base_version": 1, "publish": True},
            )
            assert second.status_code == 201 and second.json()["version"]["status"] == "published"
            diff = client.get(f"{SLOT}/diff", params={"old": 1, "new": 2}).json()["diff"]
            assert f"-{first}" in diff and f"+{first} 🙂" in diff
            rolled = client.post(f"{SLOT}/rollback", json={"to_version": 1}).json()
            assert (rolled["version"], rolled["body"], rolled["note"]) == (
                3,
                first,
                "rollback to v1",
            )
            again = client.post(f"{SLOT}/rollback", json={"to_version": 1}).json()
            assert again["version"] == 3  # a replayed rollback adds nothing
            detail = client.get(SLOT).json()
        assert rendered(web, kapas) == "हाय रोहित, ऑर्डर KAP-100234 निकल पड़ा है।"
        assert [(v["version"], v["status"], v["author"]) for v in detail["versions"]] == [
            (1, "archived", "kapas-manager"),
            (2, "archived", "kapas-manager"),
            (3, "published", "kapas-manager"),
        ]
        assert detail["published"] == 3 and detail["effective"]["source"] == "kapas/hi v3"
        with transaction(web.sessions) as session:
            audit = session.execute(
                select(AuditEntry.actor, AuditEntry.action, AuditEntry.details)
                .where(AuditEntry.entity == "template_version")
                .order_by(AuditEntry.id)
            ).all()
        mine = [(actor, action, d["version"]) for actor, action, d in audit if d["template"] == KEY]
        assert mine == [
            ("kapas-manager", "template:save", 1),
            ("kapas-manager", "template:publish", 1),
            ("kapas-manager", "template:save", 2),
            ("kapas-manager", "template:publish", 2),
            ("kapas-manager", "template:rollback", 3),
        ]

    def test_errors_come_back_with_their_lines(self, web: Web) -> None:
        """A typo'd variable on line 2: 422 with the line, the field and the fix; nothing saved."""
        before = versions(web)
        with as_user(web, "kapas-manager") as client:
            answer = client.post(
                "/api/templates",
                json={
                    "brand": "kapas",
                    "event": "shipped",
                    "channel": "sms",
                    "language": "hi",
                    "body": "नमस्ते\n{{ order.totl }}",
                },
            )
        assert answer.status_code == 422
        (issue,) = answer.json()["detail"]["issues"]
        assert (issue["field"], issue["line"]) == ("body", 2)
        assert "did you mean order.total?" in issue["message"]
        assert versions(web) == before

    def test_a_replayed_save_adds_nothing_and_a_stale_one_conflicts(self, web: Web) -> None:
        """The same text posted twice is one version (201, then 200); a save that began
        before someone else's version landed gets 409 naming that version."""
        new = {"brand": "kapas", "event": "shipped", "channel": "sms", "language": "hi"}
        with as_user(web, "kapas-manager") as client:
            first = client.post("/api/templates", json={**new, "body": HINDI, "base_version": 0})
            replay = client.post("/api/templates", json={**new, "body": HINDI, "base_version": 0})
            stale = client.post(
                "/api/templates", json={**new, "body": HINDI + "!", "base_version": 0}
            )
        assert (first.status_code, replay.status_code) == (201, 200)
        assert first.json()["version"]["id"] == replay.json()["version"]["id"]
        assert stale.status_code == 409
        assert "v1 by kapas-manager" in stale.json()["detail"]

    def test_unknown_slots_and_versions(self, web: Web) -> None:
        """An unknown event is 404 with the list of events; a missing version 404; publishing
        an archived version 409 (roll back to it instead)."""
        with as_user(web, "kapas-manager") as client:
            unknown = client.get("/api/templates/kapas/shiped/sms/en")
            assert unknown.status_code == 404 and "order_confirmed" in unknown.json()["detail"]
            missing = client.post(
                "/api/templates/kapas/shipped/sms/en/publish", json={"version": 9}
            )
            assert missing.status_code == 404
            client.post("/api/templates/kapas/shipped/sms/en/publish", json={"version": 2})
            archived = client.post(
                "/api/templates/kapas/shipped/sms/en/publish", json={"version": 1}
            )
            assert archived.status_code == 409 and "roll back" in archived.json()["detail"]


def rendered(web: Web, brand: Any) -> str:
    """What a Hindi-speaking kapas customer gets for a shipped SMS, through the send path."""
    from tidings.templates.samples import sample_variables

    with transaction(web.sessions) as session:
        message = render_message(
            session=session,
            brand=brand,
            event="shipped",
            channel=ChannelKind.SMS,
            language="hi",
            time_zone="Asia/Kolkata",
            variables=sample_variables("shipped", "hi", brand=brand, channel=ChannelKind.SMS),
        )
    return message.text


class TestPreview:
    def test_renders_on_each_languages_sample_order(self, web: Web) -> None:
        """The slot's language formats the message; ``sample_language`` picks whose order."""
        ask = {
            "brand": "kapas",
            "event": "delayed",
            "channel": "sms",
            "language": "hi",
            "body": "{{ customer.first_name }}{% if delay.new_eta %}: {{ delay.new_eta | date }}{% endif %}",
        }
        with as_user(web, "kapas-manager") as client:
            hindi = client.post("/api/templates/preview", json=ask).json()
            english = client.post(
                "/api/templates/preview", json={**ask, "sample_language": "en"}
            ).json()
        assert hindi["text"] == "रोहित: 15 दिस॰ 2026"
        assert english["text"] == "Asha: 15 दिस॰ 2026"
        assert hindi["size"]["sms_encoding"] == "UCS-2" and hindi["size"]["sms_segments"] == 1
        assert [i["severity"] for i in hindi["issues"]] == ["warning"]  # no own English copy

    def test_an_unguarded_optional_value_is_an_issue(self, web: Web) -> None:
        """Printing an ETA that may be empty is an error; with ``sparse`` the render shows it."""
        ask = {
            "brand": "kapas",
            "event": "shipped",
            "channel": "sms",
            "language": "en",
            "body": "Arrives {{ shipment.eta | date }}",
            "sparse": True,
        }
        with as_user(web, "kapas-manager") as client:
            shown = client.post("/api/templates/preview", json=ask).json()
        errors = [i for i in shown["issues"] if i["severity"] == "error"]
        assert errors and "optional values are empty" in errors[0]["message"]
        assert shown["text"] is None and shown["error"]


class TestPages:
    def html(self, client: httpx.Client, path: str, **form: Any) -> httpx.Response:
        """A page answer as a browser gets it."""
        headers = {"Accept": "text/html"}
        if form:
            return client.post(path, data=form, headers=headers)
        return client.get(path, headers=headers)

    def test_the_editor_opens_on_what_customers_get(self, web: Web) -> None:
        """A slot without its own version opens on the inherited text, with the preview,
        the other language and the WhatsApp approval."""
        with as_user(web, "kapas-manager") as client:
            page = self.html(client, "/templates/kapas/delayed/whatsapp/hi")
        assert page.status_code == 200
        assert "starting from _default/en v1" in page.text
        assert "Sorry Rohit" not in page.text and "Sorry रोहित" in page.text  # Hindi sample
        assert "INVALID_FORMAT: a variable at the end" in page.text
        assert 'data-testid="approval">rejected' in page.text

    def test_a_broken_save_keeps_the_text_and_marks_the_line(self, web: Web) -> None:
        """The form posted with an error: 422, the editor again with the user's own text and
        the issue beside it; nothing saved."""
        before = versions(web)
        body = "नमस्ते {{ customer.first_nme }}"
        with as_user(web, "kapas-manager") as client:
            page = self.html(client, "/templates/kapas/shipped/sms/hi", body=body, base_version="0")
        assert page.status_code == 422
        assert body in page.text
        assert "did you mean customer.first_name?" in page.text
        assert "Not saved" in page.text and "your edit, not saved" in page.text
        assert versions(web) == before

    def test_save_publish_and_rollback_by_form(self, web: Web) -> None:
        """The buttons: save and publish redirects to the editor with a message; rolling back
        publishes the old text again."""
        with as_user(web, "kapas-manager") as client:
            saved = self.html(
                client,
                "/templates/kapas/shipped/sms/en",
                body="Yo " + SHIPPED,
                base_version="2",
                action="publish",
            )
            assert saved.status_code == 303
            assert saved.headers["location"].endswith("?done=published-3")
            page = self.html(client, saved.headers["location"])
            assert "Published v3: customers get it from now on." in page.text
            rolled = self.html(client, "/templates/kapas/shipped/sms/en/rollback", to_version="1")
            assert rolled.status_code == 303
            detail = client.get("/api/templates/kapas/shipped/sms/en").json()
        assert detail["versions"][-1]["body"] == "Hey " + SHIPPED
        assert detail["published"] == 4

    def test_a_conflicting_save_keeps_both(self, web: Web) -> None:
        """A form that began from v1 while v2 landed: 409, the editor keeps the user's text
        and now builds on v2, so saving again goes on top."""
        with as_user(web, "kapas-manager") as client:
            page = self.html(
                client, "/templates/kapas/shipped/sms/en", body="Mine " + SHIPPED, base_version="1"
            )
        assert page.status_code == 409
        assert "has v2 by seed" in page.text
        assert "Mine " in page.text and 'name="base_version" value="2"' in page.text

    def test_the_preview_fragment_swaps_the_issues_too(self, web: Web) -> None:
        """The htmx fragment holds the preview and, out of band, the issues list."""
        with as_user(web, "kapas-manager") as client:
            fragment = client.post(
                "/templates/kapas/shipped/sms/hi/preview",
                data={"body": "{{ order.nmber }}", "sample": "id"},
                headers={"HX-Request": "true"},
            )
        assert fragment.status_code == 200
        assert 'id="issues" class="issues" hx-swap-oob="true"' in fragment.text
        assert "did you mean order.number?" in fragment.text
        assert "Siti Rahayu" in fragment.text  # the Indonesian sample order was asked for

    def test_forms_need_the_csrf_token(self, web: Web) -> None:
        """A form post without the session's CSRF token is refused."""
        client = web.login("kapas-manager")
        del client.headers["X-CSRF-Token"]
        answer = client.post(
            "/templates/kapas/shipped/sms/en", data={"body": "x"}, headers={"Accept": "text/html"}
        )
        client.close()
        assert answer.status_code == 403
