"""The classify step: parsed emails become cases, once, with review where the model is unsure."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, update

from tidings.classifiers.factory import classifier_for
from tidings.config import BrandsFile, Settings
from tidings.inbox.import_files import email_files, import_files
from tidings.pipeline.steps import default_steps
from tidings.pipeline.worker import Worker
from tidings.store.brands import sync_brands
from tidings.store.db import SessionFactory, transaction
from tidings.store.enums import CaseState, EmailState
from tidings.store.models import Case, InboundEmail

SAMPLES = Path(__file__).resolve().parent.parent / "tidings" / "demo" / "emails"


def _import(sessions: SessionFactory, brands: BrandsFile) -> int:
    with transaction(sessions) as session:
        brand_id = sync_brands(session=session, brands=brands)["griha"].id
    files = email_files(SAMPLES / "griha-support")
    return import_files(
        session_factory=sessions, files=files, mailbox="griha-support", brand_id=brand_id
    ).imported


class TestClassifyStep:
    def test_every_email_gets_one_case(self, sessions: SessionFactory, brands: BrandsFile) -> None:
        """parse then classify: a case per email with category, confidence and fields."""
        n = _import(sessions, brands)
        steps = default_steps(brands, classifier_for(Settings()))
        report = Worker(session_factory=sessions, steps=steps).run_until_idle()
        assert report.by_step == {"parse": n, "classify": n}
        with sessions() as session:
            cases = session.scalars(select(Case)).all()
            states = set(session.scalars(select(InboundEmail.state)))
        assert len(cases) == n
        assert states <= {EmailState.CLASSIFIED, EmailState.ARCHIVED}
        assert {c.category for c in cases} >= {
            "damaged_item",
            "failed_delivery_attempt",
            "partial_shipment",
        }
        assert all(c.classifier and c.classifier.startswith("local@") for c in cases)
        assert any(c.fields.get("order_id", "").startswith("GRH-") for c in cases)
        assert {c.state for c in cases} <= {CaseState.OPEN, CaseState.IN_REVIEW}

    def test_replay_opens_no_second_case(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Putting classified emails back to parsed (a crash before commit, a replay) adds nothing."""
        n = _import(sessions, brands)
        steps = default_steps(brands, classifier_for(Settings()))
        Worker(session_factory=sessions, steps=steps).run_until_idle()
        with transaction(sessions) as session:
            session.execute(update(InboundEmail).values(state=EmailState.PARSED))
        Worker(session_factory=sessions, steps=steps).run_until_idle()
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Case)) == n
