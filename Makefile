# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The PostgreSQL server the second test pass creates its throwaway databases on.
export TIDINGS_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: demo test lint test-sqlite test-postgres test-slow install clean model evals

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tidings demo

# Lint, then the suite on SQLite, then again on PostgreSQL.
test: lint test-sqlite test-postgres

lint: $(STAMP)
	$(BIN)/ruff check tidings tests bench
	$(BIN)/ruff format --check tidings tests bench
	$(BIN)/mypy

test-sqlite: $(STAMP)
	$(BIN)/pytest --db=sqlite

# The tests that use a database, again on PostgreSQL. Skipped with a warning when no PostgreSQL
# answers, unless TIDINGS_REQUIRE_POSTGRES=1 (CI).
test-postgres: $(STAMP)
	@if $(BIN)/python -m tests.pg_available; then \
		$(BIN)/pytest --db=postgresql -m "db or postgres"; \
	elif [ "$${TIDINGS_REQUIRE_POSTGRES:-0}" = "1" ]; then \
		echo "PostgreSQL is required but unreachable at $$TIDINGS_TEST_POSTGRES_URL" >&2; exit 1; \
	else \
		echo "WARNING: no PostgreSQL at $$TIDINGS_TEST_POSTGRES_URL: the PostgreSQL pass was skipped" >&2; \
	fi

# Long suites (chaos, crash loops), skipped by default.
test-slow: $(STAMP)
	$(BIN)/pytest --runslow -m slow

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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache tidings-demo.db*
