# The two commands of the contract: `make run` and `make test`. Everything else helps them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Browser tests drive Debian's Chromium (Playwright cannot download a browser here), with a CJK font
# so that screenshots show Chinese text.
CHROMIUM := /usr/bin/chromium
# The scorer's sandbox uses bubblewrap where installed (else util-linux unshare); tests run both.
BWRAP := /usr/bin/bwrap

.PHONY: run test lint bench stack-up stack-down stack-status messages clean

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "error: browser tests need Debian's chromium package at $@"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null

$(BWRAP):
	@command -v apt-get >/dev/null || { echo "error: the scorer's sandbox tests need Debian's bubblewrap package at $@"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null

run: $(INSTALLED)  ## start the whole hub with demo data; Ctrl-C stops it (RUN_ARGS="--ports auto" etc.)
	$(PY) -m infra.run $(RUN_ARGS)

test: $(INSTALLED) $(CHROMIUM) $(BWRAP) lint  ## the whole suite against a real stack the test session starts
	$(PY) -m pytest

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy  # the files listed in pyproject.toml

bench: $(INSTALLED)  ## benchmarks (never part of the test run); record results in bench/RESULTS.md
	$(PY) bench/events.py
	$(PY) bench/footprint.py
	$(PY) bench/search.py
	$(PY) bench/scoring.py
	$(PY) bench/portal.py
	$(PY) bench/leaderboard.py
	$(PY) bench/funds.py

stack-up: $(INSTALLED)
	$(PY) -m infra.stack up
stack-down: $(INSTALLED)
	$(PY) -m infra.stack down
stack-status: $(INSTALLED)
	$(PY) -m infra.stack status

messages: $(INSTALLED)  ## refresh and compile translations (needs GNU gettext)
	$(PY) manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore 'tests/*'
	$(PY) manage.py compilemessages -l zh_Hans --ignore '.venv/*'

clean:
	rm -rf .stack-test var .pytest_cache .mypy_cache .ruff_cache
