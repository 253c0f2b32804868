"""The brands file: the bundled one is valid, broken ones say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tidings.config import load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE
from tidings.errors import ConfigError


def _bundled() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(BUNDLED_BRANDS_FILE.read_text())


class TestBrandsFile:
    def test_bundled_brands_have_distinct_voices(self) -> None:
        """The demo ships three brands, each sounding different."""
        brands = load_brands(BUNDLED_BRANDS_FILE)
        assert [b.slug for b in brands.brands] == ["kapas", "seri", "griha"]
        assert len({b.voice.tone for b in brands.brands}) == 3
        assert {lang for b in brands.brands for lang in b.languages} >= {"en", "hi", "id", "ms"}

    def test_toml_works_like_yaml(self, tmp_path: Path) -> None:
        """A TOML brands file loads to the same brands."""
        path = tmp_path / "brands.toml"
        path.write_text(
            '[[brands]]\nslug = "acme"\nname = "Acme"\ndefault_language = "en"\n'
            'languages = ["en"]\ncurrency = "INR"\n'
            '[brands.senders.email]\naddress = "help@acme.example"\nname = "Acme"\n'
            '[brands.voice]\ntone = "plain"\nsign_off = "Acme"\n'
        )
        brand = load_brands(path).get("acme")
        assert brand.policies.cancellation_window_hours == 24

    @pytest.mark.parametrize(
        ("mutate", "message"),
        [
            (lambda d: d["brands"][0].update(default_language="ta"), "default_language"),
            (lambda d: d["brands"][1].update(slug="kapas"), "unique"),
            (lambda d: d["brands"][0]["thresholds"].update(wismo=1.5), "within 0..1"),
            (
                lambda d: d["brands"][0].update(order_id_patterns=["KAP-(\\d"]),
                "not a valid regular expression",
            ),
            (lambda d: d["brands"][0]["voice"].update(emoji="lots"), "brands.0.voice.emoji"),
        ],
    )
    def test_invalid_file_names_the_problem(self, tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
        """Each mistake is reported with where it is."""
        data = _bundled()
        mutate(data)
        path = tmp_path / "brands.yaml"
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=message):
            load_brands(path)

    def test_missing_file_says_how_to_fix(self, tmp_path: Path) -> None:
        """A missing file names the setting to change."""
        with pytest.raises(ConfigError, match="TIDINGS_BRANDS_FILE"):
            load_brands(tmp_path / "nope.yaml")

    def test_unknown_brand_lists_known_ones(self) -> None:
        """Asking for a brand that is not there names the ones that are."""
        with pytest.raises(ConfigError, match="kapas, seri, griha"):
            load_brands(BUNDLED_BRANDS_FILE).get("acme")
