# Every target sets itself up from a clean clone: the venv is (re)built when the lock changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ZAPGATE_PORT ?= 8000
SIDECARS ?= 1

.PHONY: run test lint bench clean browser

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	# The source folders go on the venv's path (a .pth file): no build step, no wheel.
	$(BIN)/python infra/install_paths.py
	touch $(STAMP)

run: $(STAMP)
	ZAPGATE_PORT=$(ZAPGATE_PORT) SIDECARS=$(SIDECARS) $(BIN)/python -m zapgate_devstack.run

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy  # settings and folders in pyproject.toml [tool.mypy]
	$(BIN)/python -m pytest -n 2 -m "not slow" tests
	# The slow suites (real processes: make run's stacks, sidecars, a browser) one at a time: two of them side
	# by side on 2 cores turned their timing waits into flakes.
	$(BIN)/python -m pytest -m slow tests

# Debian's chromium for the browser tests (apt-get, only when /usr/bin/chromium is missing); Playwright
# (requirements.lock) drives it through executable_path: no browser download, no `playwright install`.
browser:
	@sh infra/install_chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/dynamodb_ops.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
