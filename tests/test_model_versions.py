"""Local model versions: stored side by side, promoted only through the eval gate, rolled back,
followed by workers; and ops' re-labels feeding `tidings train --from-db`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from tests.agent_support import Scripted, agent_pipeline, brand_row, mail, receive, verdict, work
from tidings.classifiers.local import LocalClassifier, LocalModel, load_model
from tidings.classifiers.train import TrainingConfig, train
from tidings.classifiers.versions import (
    add_model,
    bundled_version,
    follow_promotions,
    list_models,
    record_promotion,
    rollback_target,
    serving_version,
)
from tidings.cli import app
from tidings.config.brands import BrandsFile
from tidings.evals.dataset import load_dataset
from tidings.evals.feedback import relabelled
from tidings.store.db import SessionFactory, transaction
from tidings.store.models import ClassifierModel, HumanLabel, ModelPromotion

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "data/labelled/train/customer_ms.jsonl"


def copy_of_bundled(version: str) -> LocalModel:
    """The bundled weights under another version: the gate must find nothing worse."""
    return load_model().model_copy(update={"version": version})


@pytest.fixture(scope="module")
def weak_model() -> LocalModel:
    """A model trained on one small Malay file: far worse than the bundled one elsewhere."""
    config = TrainingConfig(folds=2, word_features=2000, char_features=4000)
    return train(load_dataset(SMALL), config, version="weak-1")


def cli(db_url: str, *args: str) -> Result:
    return CliRunner(env={"TIDINGS_DATABASE_URL": db_url}).invoke(app, list(args))


def dev_sample(tmp_path: Path) -> str:
    """A small evaluation set (60 dev records) so the gate runs in seconds."""
    records = load_dataset(ROOT / "data/labelled/dev")[::9]
    path = tmp_path / "dev-sample.jsonl"
    path.write_text("\n".join(r.model_dump_json(by_alias=True) for r in records))
    return f"dev={path}"


class TestVersions:
    def test_versions_sit_side_by_side_and_the_bundled_one_is_served_first(
        self, sessions: SessionFactory
    ) -> None:
        with transaction(sessions) as session:
            add_model(session, copy_of_bundled("copy-1"), by="test", note="same weights")
        with sessions() as session:
            models = list_models(session)
            assert [(m.version, m.source, m.serving) for m in models] == [
                (bundled_version(), "bundled", True),
                ("copy-1", "database", False),
            ]
            assert serving_version(session) == bundled_version()

    def test_a_version_cannot_be_stored_twice(self, sessions: SessionFactory) -> None:
        with transaction(sessions) as session:
            add_model(session, copy_of_bundled("copy-1"), by="test")
        with pytest.raises(Exception, match="exists already"), transaction(sessions) as session:
            add_model(session, copy_of_bundled("copy-1"), by="test")
        with pytest.raises(Exception, match="exists already"), transaction(sessions) as session:
            add_model(session, copy_of_bundled(bundled_version()), by="test")


class TestPromotion:
    def test_a_worse_model_is_refused_and_nothing_changes(
        self, db_url: str, sessions: SessionFactory, weak_model: LocalModel, tmp_path: Path
    ) -> None:
        with transaction(sessions) as session:
            add_model(session, weak_model, by="test")
        result = cli(db_url, "model", "promote", "weak-1", "--dataset", dev_sample(tmp_path))
        assert result.exit_code == 1, result.output
        assert "not promoted" in result.output and "macro_f1" in result.output
        with sessions() as session:
            assert serving_version(session) == bundled_version()
            assert session.scalar(select(func.count()).select_from(ModelPromotion)) == 0

    def test_force_promotes_and_records_that_it_was_forced(
        self, db_url: str, sessions: SessionFactory, weak_model: LocalModel, tmp_path: Path
    ) -> None:
        with transaction(sessions) as session:
            add_model(session, weak_model, by="test")
        result = cli(
            db_url, "model", "promote", "weak-1", "--dataset", dev_sample(tmp_path), "--force"
        )
        assert result.exit_code == 0, result.output
        with sessions() as session:
            promotion = session.scalars(select(ModelPromotion)).one()
            assert (promotion.version, promotion.reason) == ("weak-1", "forced")
            assert promotion.evidence["sets"][0]["failures"]

    def test_an_equal_model_passes_then_rollback_returns_to_the_bundled_one(
        self, db_url: str, sessions: SessionFactory, tmp_path: Path
    ) -> None:
        with transaction(sessions) as session:
            add_model(session, copy_of_bundled("copy-2"), by="test")
        result = cli(db_url, "model", "promote", "copy-2", "--dataset", dev_sample(tmp_path))
        assert result.exit_code == 0, result.output
        listed = cli(db_url, "model", "list", "--json")
        serving = [m["version"] for m in json.loads(listed.stdout)["models"] if m["serving"]]
        assert serving == ["copy-2"]
        back = cli(db_url, "model", "rollback")
        assert back.exit_code == 0, back.output
        with sessions() as session:
            assert serving_version(session) == bundled_version()
        assert cli(db_url, "model", "rollback").exit_code == 2  # nothing before the bundled one

    def test_rollbacks_walk_back_through_promotions(
        self, sessions: SessionFactory, weak_model: LocalModel
    ) -> None:
        with transaction(sessions) as session:
            add_model(session, copy_of_bundled("copy-3"), by="test")
            add_model(session, weak_model, by="test")
            record_promotion(session, "copy-3", by="test", reason="promote", evidence={})
            record_promotion(session, "weak-1", by="test", reason="forced", evidence={})
        for expected in ("copy-3", bundled_version()):
            with transaction(sessions) as session:
                target = rollback_target(session)
                record_promotion(session, target, by="test", reason="rollback", evidence={})
            assert target == expected
        with pytest.raises(Exception, match="nothing to roll back"), sessions() as session:
            rollback_target(session)

    def test_workers_follow_a_promotion_and_a_rollback(
        self, sessions: SessionFactory, weak_model: LocalModel
    ) -> None:
        classifier = LocalClassifier()
        assert follow_promotions(classifier, sessions) == 0
        with transaction(sessions) as session:
            add_model(session, weak_model, by="test")
            record_promotion(session, "weak-1", by="test", reason="forced", evidence={})
        assert follow_promotions(classifier, sessions) == 1
        assert classifier.model.version == "weak-1"
        assert classifier.model.labels == weak_model.labels  # loaded from the database's bytes
        with transaction(sessions) as session:
            record_promotion(session, bundled_version(), by="test", reason="rollback", evidence={})
        assert follow_promotions(classifier, sessions) == 1
        assert classifier.model.version == bundled_version()

    def test_a_corrupted_version_is_refused(
        self, sessions: SessionFactory, weak_model: LocalModel
    ) -> None:
        with transaction(sessions) as session:
            add_model(session, weak_model, by="test")
        with transaction(sessions) as session:
            row = session.scalars(select(ClassifierModel)).one()
            row.weights = row.weights[:-10] + b"0123456789"
            record_promotion(session, "weak-1", by="test", reason="forced", evidence={})
        with pytest.raises(Exception, match="checksum"):
            follow_promotions(LocalClassifier(), sessions)


class TestFeedback:
    def test_relabels_become_training_records_and_a_stored_version(
        self,
        db_url: str,
        sessions: SessionFactory,
        brands: BrandsFile,
        tmp_path: Path,
    ) -> None:
        """A person's latest label per email is the truth; train --from-db stores a version."""
        brand = brand_row(sessions, brands)
        raw = mail(
            sender="asha@example.in",
            subject="parcel",
            body="The courier left my parcel with the neighbour and it is torn open.",
        )
        email_id = receive(sessions, brand, raw)
        with agent_pipeline(db_url, sessions, brands, Scripted({"parcel": verdict("wismo")})) as b:
            work(sessions, b)
        with transaction(sessions) as session:
            for label in ("wrong_or_missing_item", "damaged_item"):
                session.add(HumanLabel(email_id=email_id, label=label, labeller="ops:meera"))
        with sessions() as session:
            records = relabelled(session)
        assert [(r.label, r.source, r.sender_kind) for r in records] == [
            ("damaged_item", "ops-relabel", "customer")
        ]
        assert "torn open" in records[0].body
        result = cli(
            db_url,
            "train",
            "--data",
            str(SMALL),
            "--from-db",
            "--version",
            "fb-1",
            "--note",
            "with ops labels",
        )
        assert result.exit_code == 0, result.output
        assert "1 re-labelled emails from the database added" in result.output
        with sessions() as session:
            stored = session.scalars(select(ClassifierModel)).one()
            assert (stored.version, stored.note) == ("fb-1", "with ops labels")
            assert stored.meta["training_counts"]["damaged_item"] >= 1
