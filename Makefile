# Haven: `make demo` and `make test` work from a fresh clone with only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KEYS := .haven-keys.env

.PHONY: demo test test-all lint bench keys clean venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

$(KEYS): | $(STAMP)
	$(BIN)/python -m config.keys $(KEYS)

keys: $(STAMP)
	$(BIN)/python -m config.keys $(KEYS)

# The demo: SQLite, in-memory channel layer, eager Celery, DEBUG on, the platform simulator.
demo: $(STAMP) $(KEYS)
	DJANGO_DEBUG=true $(BIN)/python manage.py migrate --no-input -v0
	DJANGO_DEBUG=true $(BIN)/python manage.py demo

# The fast suite, as a fresh machine runs it: no services needed.
test: $(STAMP) $(KEYS)
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py collectstatic --no-input -v0
	$(BIN)/pytest -m "not integration and not browser" -q

# Everything, services included (what .ci/run runs against PostgreSQL and Redis).
test-all: $(STAMP) $(KEYS)
	$(BIN)/python manage.py collectstatic --no-input -v0
	$(BIN)/pytest -q

lint: $(STAMP) $(KEYS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/djlint templates --lint

bench: $(STAMP) $(KEYS)
	$(BIN)/python bench/vault.py
	$(BIN)/python bench/pii/run_bench.py
	$(BIN)/python bench/connectors.py

clean:
	rm -rf $(VENV) .staticfiles .mypy_cache .ruff_cache .test-haven.sqlite3*
