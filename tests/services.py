"""One switch for test tiers whose real service is missing: skip on a laptop, fail in CI.

``TIDINGS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) turns every "not installed here" skip into a
failure, so CI can never pass by quietly not running Dovecot, Prism, PostgreSQL or the quality
gate's shared data.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

SWITCH = "TIDINGS_REQUIRE_SERVICES"


def required() -> bool:
    """Whether missing services fail the run (CI) instead of skipping it."""
    return os.environ.get(SWITCH) == "1"


def missing(message: str) -> NoReturn:
    """Skip loudly, or fail under the switch, naming how to install what is missing."""
    if required():
        pytest.fail(f"{message} ({SWITCH}=1: this tier must run)")
    pytest.skip(f"NOT RUN: {message}")
