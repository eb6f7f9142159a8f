# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo run test bench lint format lock clean

RUN_VENV  ?= .venv-run
RUN_STAMP := $(RUN_VENV)/.installed

# The development venv: the locked runtime and development dependencies (hashes checked), and the
# project itself, editable, which builds its C loops (activity scanner, per-day fold) next to their sources.
venv: $(STAMP)

$(STAMP): requirements-dev.lock pyproject.toml parsers/activity/_linescan.c parsers/activity/_pairs.c parsers/aggregate/_dayfold.c parsers/sources/_stamps.c parsers/_civil_hour.h parsers/_utf8.h
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# What `make run` runs in: the locked runtime dependencies only (and the locked build backend,
# setuptools, for the editable install), no test or lint tool.
$(RUN_STAMP): requirements.lock requirements-build.lock pyproject.toml parsers/activity/_linescan.c parsers/activity/_pairs.c parsers/aggregate/_dayfold.c parsers/sources/_stamps.c parsers/_civil_hour.h parsers/_utf8.h
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock -r requirements-build.lock
	$(RUN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(RUN_STAMP)

demo: venv  ## the main job end to end on embedded defaults
	$(PY) -m launchers.demo

run: $(RUN_STAMP)  ## API, worker, beat, Flower (and the embedded broker when no broker URL is set)
	# honcho gives the first Procfile process (web) exactly $$PORT, the others $$PORT+100*n;
	# launchers.procfile is `honcho start` given the time to stop in order (docs/shutdown.md).
	PORT=$${PORT:-8000} PATH="$(abspath $(RUN_VENV))/bin:$$PATH" $(RUN_VENV)/bin/python -m launchers.procfile

test: venv  ## the whole test suite, integration tests included
	$(PY) -m pytest

bench: venv  ## speed and memory figures (not a test); CASE=name runs one (bench.run --list)
	$(PY) -m bench.run $(if $(CASE),--case $(CASE))

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

lock: venv  ## regenerate the locks (with hashes) from pyproject.toml
	$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(VENV)/bin/uv pip compile - --generate-hashes --universal --python-version 3.11 -q -o requirements-build.lock
	$(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -q -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 -q -o requirements-dev.lock

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(RUN_VENV) var bench/cache .pytest_cache .ruff_cache .mypy_cache build
	find parsers -name '*.so' -delete
