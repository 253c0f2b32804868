# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use
# and install the exact versions in requirements.lock, so every machine runs what CI ran.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
# The PostgreSQL server the second test pass creates its throwaway databases on.
export TIDINGS_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
# Quiet pip: no version nag, no progress bars in CI logs.
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint test-sqlite test-postgres test-slow test-latest install lock clean model evals

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --requirement $(LOCK)
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tidings demo

# Lint, the suite on SQLite, then again on PostgreSQL. Every part runs even when an earlier one
# fails (a SQLite failure must not hide the PostgreSQL pass); the target fails at the end.
test: $(STAMP)
	@failed=""; \
	$(MAKE) --no-print-directory lint || failed="$$failed lint"; \
	$(MAKE) --no-print-directory test-sqlite || failed="$$failed sqlite"; \
	$(MAKE) --no-print-directory test-postgres || failed="$$failed postgresql"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: lint, SQLite and PostgreSQL passes all passed"

lint: $(STAMP)
	$(BIN)/ruff check tidings tests bench
	$(BIN)/ruff format --check tidings tests bench
	$(BIN)/mypy

test-sqlite: $(STAMP)
	$(BIN)/pytest --db=sqlite

# The tests that use a database, again on PostgreSQL. Skipped with a warning when no PostgreSQL
# answers, unless TIDINGS_REQUIRE_SERVICES=1 (CI), where every missing service fails the run.
test-postgres: $(STAMP)
	@if $(BIN)/python -m tests.pg_available; then \
		$(BIN)/pytest --db=postgresql -m "db or postgres"; \
	elif [ "$${TIDINGS_REQUIRE_SERVICES:-0}" = "1" ]; then \
		echo "PostgreSQL is required but unreachable at $$TIDINGS_TEST_POSTGRES_URL" >&2; exit 1; \
	else \
		echo "WARNING: no PostgreSQL at $$TIDINGS_TEST_POSTGRES_URL: the PostgreSQL pass was skipped" >&2; \
	fi

# Long suites (chaos, crash loops), skipped by default.
test-slow: $(STAMP)
	$(BIN)/pytest --runslow -m slow

# The newest versions pyproject.toml allows, in a separate .venv-latest: shows drift (a library
# release that changes behaviour) before users meet it. Not part of CI's required path.
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install --quiet --upgrade --editable '.[dev]'
	.venv-latest/bin/pytest --db=sqlite -p no:cacheprovider

# Re-pin requirements.lock after changing pyproject.toml's dependencies (or to take upgrades).
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform linux \
		--upgrade --quiet --output-file $(LOCK)

# Retrain the shipped local classifier (about a minute) and write its thresholds beside it.
MODEL_VERSION ?= $(shell date +%Y.%m.%d)
SHARED ?= ../shared
model: $(STAMP)
	$(BIN)/tidings train --data data/labelled/train --data $(SHARED)/data/bitext_dev.jsonl --version $(MODEL_VERSION)

# The eval reports quoted in README "Classifiers and evals", written to reports/.
evals: $(STAMP)
	$(BIN)/tidings eval --dataset data/labelled/dev --output reports/dev.json --html reports/dev.html
	$(BIN)/tidings eval --dataset data/labelled/test --output reports/test.json --html reports/test.html
	$(BIN)/tidings eval --dataset $(SHARED)/data/bitext_dev.jsonl --skip-trained --output reports/bitext.json
	$(BIN)/tidings eval --dataset tidings/demo/emails --output reports/demo-emails.json --html reports/demo-emails.html

clean:
	rm -rf $(VENV) .venv-latest .mypy_cache .ruff_cache .pytest_cache tidings-demo.db*
