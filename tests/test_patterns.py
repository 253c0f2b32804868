"""Operators' regular expressions over hostile text: refused at load, or cut off in time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import regex
import yaml

from tidings.classifiers.extract import find_order_id
from tidings.config import load_brands
from tidings.config.settings import BUNDLED_BRANDS_FILE
from tidings.errors import ConfigError
from tidings.inbox.patterns import find_order_ids
from tidings.patterns import compile_checked

HOSTILE = "a" * 30_000 + "!"


class TestPatternsAtLoad:
    @pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a|aa)+$", r"(x+x+)+y", r"([A-Z]+)*\d$"])
    def test_explosive_pattern_is_refused(self, pattern: str) -> None:
        """Nested repetition that backtracks without end is refused with the fix."""
        with pytest.raises(ConfigError, match="takes too long on hostile text"):
            compile_checked(pattern)

    def test_brands_file_with_an_explosive_pattern_names_the_key(self, tmp_path: Path) -> None:
        """Loading the brands file fails fast, naming the brand's order_id_patterns."""
        data = yaml.safe_load(BUNDLED_BRANDS_FILE.read_text())
        data["brands"][0]["order_id_patterns"] = [r"(a+)+$"]
        path = tmp_path / "brands.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        started = time.monotonic()
        with pytest.raises(ConfigError, match=r"order_id_patterns.*takes too long"):
            load_brands(path)
        assert time.monotonic() - started < 5

    def test_shipped_patterns_pass(self) -> None:
        """Every bundled brand's patterns pass the check."""
        brands = load_brands(BUNDLED_BRANDS_FILE)
        for brand in brands.brands:
            for pattern in brand.order_id_patterns:
                compile_checked(pattern)


class TestPatternsAtMatch:
    def test_a_pattern_that_runs_long_finds_nothing_in_that_text(self) -> None:
        """A slow pattern that slipped past the check is cut off; the email goes on."""
        explosive = regex.compile(r"(a+)+$")  # compiled without the load check
        started = time.monotonic()
        assert find_order_ids(HOSTILE, [explosive]) == []
        assert time.monotonic() - started < 1

    def test_extraction_with_a_slow_brand_pattern_falls_back(self) -> None:
        """Field extraction still finds an id by the generic shapes when time runs out."""
        started = time.monotonic()
        text = "a" * 5_000 + " order KAP-240311 " + "b" * 5_000
        assert find_order_id(text, [r"KAP-\d{6}"]) == "KAP-240311"
        assert time.monotonic() - started < 1
