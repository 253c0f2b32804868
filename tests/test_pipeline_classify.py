"""The classify step: parsed emails become cases, once, with review where the model is unsure."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, update

from tidings.classifiers.cascade import CascadeClassifier
from tidings.classifiers.factory import classifier_for
from tidings.classifiers.types import Classification, ClassifyContext, EmailInput
from tidings.config import BrandsFile, Settings
from tidings.config.settings import InboxSettings
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
        steps = default_steps(brands, InboxSettings(), classifier_for(Settings(_env_file=None)))
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
        assert {c.state for c in cases} <= {CaseState.OPEN, CaseState.IN_REVIEW, CaseState.ARCHIVED}
        with sessions() as session:
            archived = session.scalars(
                select(Case)
                .join(InboundEmail, Case.email_id == InboundEmail.id)
                .where(InboundEmail.state == EmailState.ARCHIVED)
            ).all()
        assert all(c.category == "other" and c.state is CaseState.ARCHIVED for c in archived)

    def test_replay_opens_no_second_case(
        self, sessions: SessionFactory, brands: BrandsFile
    ) -> None:
        """Putting classified emails back to parsed (a replay) adds no case, classifies nothing
        again, and restores each email's state from its case."""
        n = _import(sessions, brands)
        counting = Counting(classifier_for(Settings(_env_file=None)))
        steps = default_steps(brands, InboxSettings(), counting)
        Worker(session_factory=sessions, steps=steps).run_until_idle()
        with sessions() as session:
            before = dict(session.execute(select(InboundEmail.id, InboundEmail.state)).all())
        with transaction(sessions) as session:
            session.execute(update(InboundEmail).values(state=EmailState.PARSED))
        Worker(session_factory=sessions, steps=steps).run_until_idle()
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Case)) == n
            after = dict(session.execute(select(InboundEmail.id, InboundEmail.state)).all())
        assert counting.calls == n
        assert after == before


class Counting:
    """Counts the classifications it passes through."""

    name = "counting"

    def __init__(self, inner: CascadeClassifier) -> None:
        self.inner, self.calls = inner, 0

    def classify(self, email: EmailInput, context: ClassifyContext) -> Classification:
        self.calls += 1
        return self.inner.classify(email, context)
