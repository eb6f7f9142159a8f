# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo run test bench lint format clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt setup.py parsers/_linescan.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) setup.py --quiet build_ext --inplace  # the C loop of the activity scanner
	touch $(STAMP)

demo: venv  ## the main job end to end on embedded defaults
	$(PY) -m tasks.demo

run: venv  ## API, worker, beat, Flower (and the embedded broker when no broker URL is set)
	# honcho gives the first Procfile process (web) exactly $$PORT, the others $$PORT+100*n.
	PORT=$${PORT:-8000} PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/honcho start

test: venv  ## the whole test suite, integration tests included
	$(PY) -m pytest

bench: venv  ## speed and memory figures (not a test)
	$(PY) -m bench.run

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var bench/cache .pytest_cache .ruff_cache build parsers/*.so
