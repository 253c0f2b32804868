"""Exit 0 when the test PostgreSQL server answers (used by `make test-postgres`)."""

from __future__ import annotations

import os
import sys

import psycopg

from tests.conftest import DEFAULT_PG

url = os.environ.get("TIDINGS_TEST_POSTGRES_URL", DEFAULT_PG).replace("+psycopg", "")
try:
    psycopg.connect(url, connect_timeout=3).close()
except psycopg.Error:
    sys.exit(1)
