# Two commands a newcomer needs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

## run: the Slack bot if Slack credentials are configured, else the terminal conversation
run: $(VENV)/.runtime
	$(BIN)/python app.py auto

## test: the whole suite (PostgreSQL tests run when TEST_DATABASE_URL is set)
test: $(VENV)/.dev
	$(BIN)/python -m pytest

## lint: style, types, and which way imports run (pyproject.toml's import-linter contracts)
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot blocks
	$(BIN)/lint-imports
	@! grep -rnE 'os\.environ|os\.getenv' bot blocks --include='*.py' || \
		{ echo "only app.py reads the environment"; exit 1; }

## bench: every benchmark; tables on stdout, PNGs under docs/
bench: $(VENV)/.dev
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
