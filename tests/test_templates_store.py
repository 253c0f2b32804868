"""The template store on both databases: versions, publishing, rollback, diff, fallbacks, loading."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.factories import brand_rows
from tidings.config import BrandsFile
from tidings.errors import TemplateConflictError, TemplateError, TemplateValidationError
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import ChannelKind, TemplateStatus
from tidings.store.models import Template, TemplateVersion
from tidings.templates import lookup, store
from tidings.templates.bundled import load_bundled
from tidings.templates.check import check_database
from tidings.templates.contract import EVENTS
from tidings.templates.store import TemplateKey

TEST_COPY = Path(__file__).resolve().parent / "data" / "templates"
SMS = ChannelKind.SMS


def key(brand: str | None = "kapas", language: str = "en", event: str = "shipped") -> TemplateKey:
    """A slot key; SMS unless told otherwise."""
    return TemplateKey(brand=brand, event=event, channel=SMS, language=language)


def body(word: str) -> str:
    """A valid SMS body with a marker word."""
    return f"{word} {{{{ customer.first_name }}}}, {{{{ order.number }}}} has shipped."


@pytest.fixture
def seeded(sessions: SessionFactory, brands: BrandsFile) -> SessionFactory:
    """A database with the demo brands."""
    with transaction(sessions) as session:
        brand_rows(session, brands)
    return sessions


class TestVersions:
    def test_draft_publish_and_history(self, seeded: SessionFactory) -> None:
        """Drafts are new versions; publishing one archives the previously published one."""
        with transaction(seeded) as session:
            first = store.save_draft(session=session, key=key(), body=body("Hi"), author="meera")
            store.publish(session=session, key=key(), version=first.version.version)
            second = store.save_draft(
                session=session, key=key(), body=body("Hello"), author="ravi", note="friendlier"
            )
            assert store.published(session=session, key=key()).body == body("Hi")  # type: ignore[union-attr]
            store.publish(session=session, key=key(), version=second.version.version)
        with transaction(seeded) as session:
            history = store.history(session=session, key=key())
        assert [(v.version, v.status, v.author) for v in history] == [
            (1, TemplateStatus.ARCHIVED, "meera"),
            (2, TemplateStatus.PUBLISHED, "ravi"),
        ]
        assert history[1].note == "friendlier"

    def test_rollback_publishes_an_old_text_as_a_new_version(self, seeded: SessionFactory) -> None:
        """Rollback keeps history: v1's text comes back as v3, v2 is archived."""
        with transaction(seeded) as session:
            for word in ("Hi", "Hello"):
                saved = store.save_draft(session=session, key=key(), body=body(word), author="m")
                store.publish(session=session, key=key(), version=saved.version.version)
            rolled = store.rollback(session=session, key=key(), to_version=1, author="lead")
            history = store.history(session=session, key=key())
        assert rolled.version == 3 and rolled.body == body("Hi") and rolled.note == "rollback to v1"
        assert [v.status for v in history] == [
            TemplateStatus.ARCHIVED,
            TemplateStatus.ARCHIVED,
            TemplateStatus.PUBLISHED,
        ]

    def test_archived_versions_are_rolled_back_not_republished(
        self, seeded: SessionFactory
    ) -> None:
        """Publishing an archived version says to roll back instead."""
        with transaction(seeded) as session:
            for word in ("Hi", "Hello"):
                saved = store.save_draft(session=session, key=key(), body=body(word), author="m")
                store.publish(session=session, key=key(), version=saved.version.version)
            with pytest.raises(TemplateError, match="roll back to it instead"):
                store.publish(session=session, key=key(), version=1)

    def test_saving_the_newest_text_again_adds_nothing(self, seeded: SessionFactory) -> None:
        """A form posted twice is one version: the second save returns the first, uncreated."""
        with transaction(seeded) as session:
            first = store.save_draft(session=session, key=key(), body=body("Hi"), author="m")
            again = store.save_draft(session=session, key=key(), body=body("Hi"), author="m")
            history = store.history(session=session, key=key())
        assert (first.created, again.created) == (True, False)
        assert again.version.id == first.version.id and len(history) == 1

    def test_a_save_from_a_stale_version_is_a_conflict(self, seeded: SessionFactory) -> None:
        """An edit that began from v1 while v2 landed is refused, naming v2 and its author."""
        with transaction(seeded) as session:
            store.save_draft(session=session, key=key(), body=body("Hi"), author="meera")
            store.save_draft(
                session=session, key=key(), body=body("Hey"), author="ravi", base_version=1
            )
            with pytest.raises(TemplateConflictError, match="has v2 by ravi"):
                store.save_draft(
                    session=session, key=key(), body=body("Yo"), author="meera", base_version=1
                )
            on_top = store.save_draft(
                session=session, key=key(), body=body("Yo"), author="meera", base_version=2
            )
        assert on_top.version.version == 3

    def test_a_replayed_rollback_adds_nothing(self, seeded: SessionFactory) -> None:
        """Rolling back to a text that is already published returns the published version."""
        with transaction(seeded) as session:
            for word in ("Hi", "Hello"):
                saved = store.save_draft(session=session, key=key(), body=body(word), author="m")
                store.publish(session=session, key=key(), version=saved.version.version)
            first = store.rollback(session=session, key=key(), to_version=1, author="lead")
            second = store.rollback(session=session, key=key(), to_version=1, author="lead")
            third = store.rollback(session=session, key=key(), to_version=3, author="lead")
        assert first.version == second.version == third.version == 3

    def test_diff_between_versions(self, seeded: SessionFactory) -> None:
        """A unified diff with who and when in its header."""
        email = TemplateKey(
            brand="kapas", event="shipped", channel=ChannelKind.EMAIL, language="en"
        )
        with transaction(seeded) as session:
            for subject, word in (("Shipped", "Hi"), ("On its way", "Hello")):
                store.save_draft(
                    session=session,
                    key=email,
                    subject=f"{subject}: {{{{ order.number }}}}",
                    body=body(word),
                    author="meera",
                )
            text = store.diff(session=session, key=email, old=1, new=2)
        assert "--- kapas/shipped/email/en v1 (meera," in text
        assert "+++ kapas/shipped/email/en v2 (meera," in text
        assert "-Subject: Shipped: {{ order.number }}" in text
        assert "+Subject: On its way: {{ order.number }}" in text
        assert "+Hello {{ customer.first_name }}" in text

    def test_email_keeps_subject_and_sms_does_not(self, seeded: SessionFactory) -> None:
        """Email stores its subject apart from the body; SMS has none."""
        email = TemplateKey(brand=None, event="shipped", channel=ChannelKind.EMAIL, language="en")
        with transaction(seeded) as session:
            saved = store.save_draft(
                session=session, key=email, subject="Shipped", body=body("Hi"), author="m"
            )
            row = session.get(TemplateVersion, saved.version.id)
            assert row is not None and (row.subject, row.body) == ("Shipped", body("Hi"))

    def test_invalid_template_is_not_saved(self, seeded: SessionFactory) -> None:
        """Validation errors block the save and list each issue with its line."""
        with transaction(seeded) as session, pytest.raises(TemplateValidationError) as caught:
            store.save_draft(
                session=session, key=key(), body="Hi\n{{ order.totl }}", author="meera"
            )
        assert "line 2: order.totl is not a variable" in str(caught.value)
        assert len(caught.value.issues) == 1
        with transaction(seeded) as session:
            assert session.scalar(select(func.count()).select_from(TemplateVersion)) == 0

    def test_missing_translations_are_warnings(self, seeded: SessionFactory) -> None:
        """Saving kapas/en warns that kapas also offers Hindi and has no Hindi version yet."""
        with transaction(seeded) as session:
            saved = store.save_draft(session=session, key=key(), body=body("Hi"), author="m")
        assert [w.message for w in saved.warnings] == [
            "kapas offers hi but has no published hi shipped sms template: hi speakers get the "
            "next one on the fallback chain"
        ]

    def test_database_refuses_two_published_versions(self, seeded: SessionFactory) -> None:
        """The partial unique index backs the archive-then-publish rule."""
        with pytest.raises(IntegrityError), transaction(seeded) as session:
            slot = Template(brand_id=None, event="shipped", channel=SMS, language="en")
            session.add(slot)
            session.flush()
            for number in (1, 2):
                session.add(
                    TemplateVersion(
                        template_id=slot.id,
                        version=number,
                        status=TemplateStatus.PUBLISHED,
                        body="x",
                        author="a",
                    )
                )
            session.flush()


@pytest.mark.postgres
def test_concurrent_publishes_leave_one_published(seeded: SessionFactory) -> None:
    """Two editors publishing at once: the slot lock serialises them, one version stays published."""
    with transaction(seeded) as session:
        for word in ("Hi", "Hello"):
            store.save_draft(session=session, key=key(), body=body(word), author="m")
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def publish_one(version: int) -> None:
        try:
            with transaction(seeded) as session:
                barrier.wait(5)
                store.publish(session=session, key=key(), version=version)
                time.sleep(0.2)  # hold the transaction open so the other publish overlaps
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=publish_one, args=(v,)) for v in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    with transaction(seeded) as session:
        statuses = sorted(v.status for v in store.history(session=session, key=key()))
    assert statuses == [TemplateStatus.ARCHIVED, TemplateStatus.PUBLISHED]


def publish(session: object, template_key: TemplateKey, text: str) -> None:
    """Save and publish one SMS template."""
    saved = store.save_draft(session=session, key=template_key, body=text, author="t")  # type: ignore[arg-type]
    store.publish(session=session, key=template_key, version=saved.version.version)  # type: ignore[arg-type]


class TestFallback:
    def test_chain_order(self, brands: BrandsFile) -> None:
        """brand+language, brand+default language, default+language, default+en."""
        seri = brands.get("seri")
        assert lookup.fallback_chain(seri, "id") == [
            ("seri", "id"),
            ("seri", "ms"),
            (None, "id"),
            (None, "en"),
        ]
        assert lookup.fallback_chain(brands.get("kapas"), "en") == [("kapas", "en"), (None, "en")]

    def test_candidates_follow_the_chain(self, seeded: SessionFactory, brands: BrandsFile) -> None:
        """Only published slots appear, in chain order."""
        seri = brands.get("seri")
        with transaction(seeded) as session:
            publish(session, key(None, "en"), body("DefaultEn"))
            publish(session, key(None, "id"), body("DefaultId"))
            publish(session, key("seri", "ms"), body("SeriMs"))
            store.save_draft(session=session, key=key("seri", "id"), body=body("Draft"), author="t")
            found = lookup.candidates(
                session=session, brand=seri, event="shipped", channel=SMS, language="id"
            )
        assert [(c.brand, c.language) for c in found] == [
            ("seri", "ms"),
            (None, "id"),
            (None, "en"),
        ]


class TestBundledLoad:
    def test_load_is_idempotent(self, seeded: SessionFactory, brands: BrandsFile) -> None:
        """Loading twice adds nothing the second time."""
        with transaction(seeded) as session:
            first = load_bundled(session=session, brands=brands, directory=TEST_COPY)
        with transaction(seeded) as session:
            second = load_bundled(session=session, brands=brands, directory=TEST_COPY)
            versions = session.scalar(select(func.count()).select_from(TemplateVersion))
            authors = set(session.scalars(select(TemplateVersion.author)))
            statuses = set(session.scalars(select(TemplateVersion.status)))
        assert (first.added, first.invalid) == (6, [])
        assert (second.added, second.updated, second.unchanged) == (0, 0, 6)
        assert versions == 6 and authors == {"tidings"} and statuses == {TemplateStatus.PUBLISHED}

    def test_changed_copy_never_overwrites_a_person(
        self, seeded: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """New bundled text is published where nobody edited, drafted where somebody did."""
        shutil.copytree(TEST_COPY, tmp_path / "copy")
        with transaction(seeded) as session:
            load_bundled(session=session, brands=brands, directory=tmp_path / "copy")
            publish(session, key(None, "en", "delayed"), "Our own words for {{ order.number }}.")
        path = tmp_path / "copy" / "_default" / "en.yaml"
        path.write_text(
            path.read_text().replace("Order {{ order.number }}", "Parcel {{ order.number }}")
        )
        with transaction(seeded) as session:
            report = load_bundled(session=session, brands=brands, directory=tmp_path / "copy")
            delayed = store.published(session=session, key=key(None, "en", "delayed"))
            shipped = store.published(
                session=session,
                key=TemplateKey(event="shipped", channel=ChannelKind.EMAIL, language="en"),
            )
            drafts = store.history(session=session, key=key(None, "en", "delayed"))
        # Changed: shipped email, delayed email (nobody edited) and delayed SMS (edited by us).
        assert (report.updated, report.drafted) == (2, 1)
        assert delayed is not None and delayed.body.startswith("Our own words")
        assert drafts[-1].status is TemplateStatus.DRAFT and drafts[-1].author == "tidings"
        assert shipped is not None and shipped.subject == "Parcel {{ order.number }} is on its way"

    def test_invalid_bundled_template_is_reported_not_loaded(
        self, seeded: SessionFactory, brands: BrandsFile, tmp_path: Path
    ) -> None:
        """A broken template in the copy is skipped with its file and line."""
        copy = tmp_path / "copy" / "_default"
        copy.mkdir(parents=True)
        (copy / "en.yaml").write_text(
            "shipped:\n  whatsapp: ok {{ customer.name }}\n  sms: |\n    Hi\n    {{ order.totl }}\n"
            "  email_subject: Hi\n  email_body: Hi {{ customer.name }}\n"
        )
        with transaction(seeded) as session:
            report = load_bundled(session=session, brands=brands, directory=tmp_path / "copy")
        assert report.added == 2
        assert report.invalid == [
            f"{copy / 'en.yaml'}:5: _default/shipped/sms/en: order.totl is not a variable; "
            "did you mean order.total?"
        ]


class TestCheck:
    def test_missing_and_invalid(self, seeded: SessionFactory, brands: BrandsFile) -> None:
        """Missing means no template anywhere on the chain; invalid templates are listed."""
        with transaction(seeded) as session:
            load_bundled(session=session, brands=brands, directory=TEST_COPY)
            # A published version that no longer validates (written straight to the table).
            slot = Template(brand_id=None, event="delivered", channel=SMS, language="en")
            session.add(slot)
            session.flush()
            session.add(
                TemplateVersion(
                    template_id=slot.id,
                    version=1,
                    status=TemplateStatus.PUBLISHED,
                    body="{{ nope }}",
                    author="x",
                )
            )
        with transaction(seeded) as session:
            report = check_database(session=session, brands=brands)
        per_brand_language = sum(len(b.languages) for b in brands.brands)
        # shipped and delayed exist in default English (3 channels), delivered only as SMS.
        assert len(report.missing) == per_brand_language * (len(EVENTS) * 3 - 7)
        assert "kapas/order_confirmed/sms/hi" in report.missing
        assert "kapas/shipped/sms/hi" not in report.missing
        assert list(report.invalid) == ["_default/delivered/sms/en v1"]
        assert "kapas/shipped/sms/hi: hi speakers get _default/en" in report.untranslated
