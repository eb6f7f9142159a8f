# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo run test bench lint format clean

NATIVE := $(VENV)/.linescan

venv: $(STAMP) $(NATIVE)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The C loop of the activity scanner, built in place next to its source (setup.py).
$(NATIVE): $(STAMP) setup.py parsers/activity/_linescan.c
	$(PY) setup.py --quiet build_ext --inplace
	touch $(NATIVE)

demo: venv  ## the main job end to end on embedded defaults
	$(PY) -m launchers.demo

run: venv  ## API, worker, beat, Flower (and the embedded broker when no broker URL is set)
	# honcho gives the first Procfile process (web) exactly $$PORT, the others $$PORT+100*n;
	# launchers.procfile is `honcho start` given the time to stop in order (docs/shutdown.md).
	PORT=$${PORT:-8000} PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m launchers.procfile

test: venv  ## the whole test suite, integration tests included
	$(PY) -m pytest

bench: venv  ## speed and memory figures (not a test); CASE=name runs one (bench.run --list)
	$(PY) -m bench.run $(if $(CASE),--case $(CASE))

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var bench/cache .pytest_cache .ruff_cache .mypy_cache build
	find parsers -name '*.so' -delete
