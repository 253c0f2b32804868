"""The one switch for missing services: skip locally, fail under TIDINGS_REQUIRE_SERVICES=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import dovecot, prism
from tests.services import SWITCH, missing


class TestRequiredServices:
    def test_missing_service_skips_on_a_laptop(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the switch a missing service skips, loudly."""
        monkeypatch.delenv(SWITCH, raising=False)
        with pytest.raises(pytest.skip.Exception, match="NOT RUN"):
            missing("Dovecot is not installed")

    def test_missing_service_fails_under_the_switch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the switch a missing service fails the run."""
        monkeypatch.setenv(SWITCH, "1")
        with pytest.raises(pytest.fail.Exception, match="must run"):
            missing("Dovecot is not installed")

    def test_every_tier_obeys_the_one_switch(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Dovecot and Prism both fail under the switch when they are not installed."""
        monkeypatch.setenv(SWITCH, "1")
        monkeypatch.delenv("CI", raising=False)
        monkeypatch.setattr(dovecot, "DOVECOT", str(tmp_path / "no-dovecot"))
        monkeypatch.setattr(prism, "PRISM", tmp_path / "no-prism")
        with pytest.raises(pytest.fail.Exception):
            dovecot.require()
        with pytest.raises(pytest.fail.Exception):
            prism.require_prism()
