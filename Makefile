# The README's two commands. Both create .venv and install what they need.
# Every pip call takes -c constraints.txt so that torch always comes from the local CPU wheel.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/python -m pip
PIP_INSTALL := $(PIP) install --quiet --disable-pip-version-check -c constraints.txt
DEMO_DIR ?= dlqa-demo

.PHONY: demo test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[torch]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[dev,torch]'
	touch $@ $(VENV)/.installed

## make demo: install, build the bundled example project, run `dlqa check` on it, write the report
demo: $(VENV)/.installed
	$(VENV)/bin/dlqa demo --dir $(DEMO_DIR)

## make test: install with dev extras, lint, check the import layers, run the whole test suite
test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(VENV)/.installed-dev
	$(VENV)/bin/python benchmarks/image_profile.py
	$(VENV)/bin/python benchmarks/near_duplicates.py
	$(VENV)/bin/python benchmarks/near_duplicate_threshold.py
	$(VENV)/bin/python benchmarks/sanity_battery.py
	$(VENV)/bin/python benchmarks/monitor_overhead.py
	$(VENV)/bin/python benchmarks/scale_profile.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .dlqa .pytest_cache .ruff_cache
