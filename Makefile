# The README's two commands. Both create .venv and install what they need.
# Every pip call takes -c constraints.txt so that torch always comes from the local CPU wheel.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/python -m pip
PIP_INSTALL := $(PIP) install --quiet --disable-pip-version-check -c constraints.txt
DEMO_DIR ?= dlqa-demo

.PHONY: demo test lint bench clean postgresql chromium

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[torch,serve]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[dev,torch,postgres,serve,text,dask]'
	touch $@ $(VENV)/.installed

# The store's tests start a throwaway PostgreSQL server from Debian's postgresql package
# (tests/pg.py); install it when missing and we may, else they skip (fail in CI).
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	else \
		echo "PostgreSQL server not found (/usr/lib/postgresql/*/bin/initdb) and not root to" \
			"install it: the PostgreSQL tests will skip (apt-get install postgresql to run them)"; \
	fi

# The dashboard's browser tests drive Debian's chromium with Playwright (tests/e2e/ui_browser.py);
# install it when missing and we may, else they skip (fail in CI).
chromium:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "chromium not found and not root to install it: the browser tests will skip" \
			"(apt-get install chromium to run them)"; \
	fi

## make demo: install, build the bundled example project, run `dlqa check` on it, write the report
demo: $(VENV)/.installed
	$(VENV)/bin/dlqa demo --dir $(DEMO_DIR)

## make test: install with dev extras (and PostgreSQL), lint, check the import layers, run the whole test suite
test: $(VENV)/.installed-dev postgresql chromium
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(VENV)/.installed-dev postgresql
	$(PIP_INSTALL) -e '.[dev,torch,postgres,serve,text,dask,bench]'
	$(VENV)/bin/python benchmarks/image_profile.py
	$(VENV)/bin/python benchmarks/near_duplicates.py
	$(VENV)/bin/python benchmarks/near_duplicate_threshold.py
	$(VENV)/bin/python benchmarks/sanity_battery.py
	$(VENV)/bin/python benchmarks/monitor_overhead.py
	$(VENV)/bin/python benchmarks/scale_profile.py
	$(VENV)/bin/python benchmarks/store_load.py
	$(VENV)/bin/python benchmarks/false_alarms.py
	$(VENV)/bin/python benchmarks/audio_profile.py
	$(VENV)/bin/python benchmarks/text_profile.py
	$(VENV)/bin/python benchmarks/label_errors.py
	$(VENV)/bin/python benchmarks/drift.py
	$(VENV)/bin/python benchmarks/eval_metrics.py
	$(VENV)/bin/python benchmarks/eval_gates.py
	$(VENV)/bin/python benchmarks/eval_clusters.py
	$(VENV)/bin/python benchmarks/parity.py
	$(VENV)/bin/python benchmarks/bundle_throughput.py
	$(VENV)/bin/python benchmarks/verdict_calibration.py
	$(VENV)/bin/python benchmarks/scale_out.py
	$(VENV)/bin/python benchmarks/dashboard.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .dlqa .pytest_cache .ruff_cache
