# ntk-linearity: common tasks. Needs only Python >= 3.11 (with the venv module) and make.
#
#   make run        kedro run (default env: base + local)
#   make run-paper  kedro run --env paper (paper-scale grids; use a GPU)
#   make run-dask   kedro run on a Dask cluster (docs/dask.md; conf/<env>/dask.yml)
#   make test       the test suite on CPU, without the tests marked slow (what CI runs)
#   make test-all   every test, the slow end-to-end ones included
#   make bench      the asv benchmark suite on the working tree, stored under HEAD, then its table
#   make bench-compare A=<rev> B=<rev>   compare two commits' benchmarks; fails on a slowdown > FACTOR (1.3)
#   make viz        kedro viz run
#   make results-page   docs/results.md from the newest tables under data/ (DATA=data/paper for another root)
#   make airflow-dags   the Airflow DAG of the reporting pipeline in airflow_dags/ (docs/operations.md)
#   make airflow-check  run that DAG under Airflow 3.3 from another folder (own venv; optional, not CI)
#   make lock       regenerate constraints.txt from the virtualenv
#
# Extra arguments: make run ARGS="--pipeline data_generation", make test ARGS="-k npz"

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= test
ARGS ?=

# Offline machines stall on kedro-telemetry; never send it from these targets.
export KEDRO_DISABLE_TELEMETRY := 1

.DEFAULT_GOAL := help
.PHONY: help venv install run run-paper run-dask test test-all bench bench-compare viz viz-screenshots results-page airflow-dags airflow-check lock clean-venv

help:
	@sed -n '1,/^$$/p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

# Create the virtualenv once.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: $(PYTHON) is older than 3.11; run make PYTHON=python3.11 ..." >&2; exit 1; }
	@echo "$(PYTHON) -m venv $(VENV)"
	@$(PYTHON) -m venv $(VENV) || \
		{ echo "error: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt install python3-venv)" >&2; exit 1; }

# (Re)install the project with exact pins whenever pyproject.toml or constraints.txt
# is newer than the stamp: with uv (pinned in constraints.txt; it downloads in parallel and installs in
# about a third of pip's time), or with pip where uv cannot be installed or fails (UV=0: pip only).
UV ?= 1
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@if [ "$(UV)" = 1 ] && $(BIN)/python -m pip install -q -c constraints.txt uv && \
	    $(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -c constraints.txt -e ".[$(EXTRAS)]"; then :; \
	else echo "installing with pip"; $(BIN)/python -m pip install -c constraints.txt -e ".[$(EXTRAS)]"; fi
	touch $(STAMP)

venv install: $(STAMP)

run: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=1 $(BIN)/kedro run $(ARGS)

run-paper: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=1 $(BIN)/kedro run --env paper $(ARGS)

run-dask: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=1 $(BIN)/kedro run --runner ntk_linearity.execution.runners.DaskRunner $(ARGS)

# One pytest-xdist worker per core; tests/conftest.py groups the tests so that the session's tiny
# project runs once and each module's fixtures once (WORKERS=0: no workers, one process).
WORKERS ?= auto
test: $(STAMP)
	JAX_PLATFORMS=cpu KEDRO_DISABLE_TELEMETRY=1 $(BIN)/python -m pytest -q -m "not slow" -n $(WORKERS) --dist loadgroup $(ARGS)

test-all: $(STAMP)
	JAX_PLATFORMS=cpu KEDRO_DISABLE_TELEMETRY=1 $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadgroup $(ARGS)

# docs/benchmarks.md. ARGS go to asv run (e.g. ARGS="--bench ntk_shallow").
bench: $(STAMP)
	$(BIN)/asv machine --yes > /dev/null
	$(BIN)/asv run --python=same --set-commit-hash $$(git rev-parse HEAD) $(ARGS)
	$(BIN)/python -m ntk_linearity.bench table

FACTOR ?= 1.3
bench-compare: $(STAMP)
	$(BIN)/python -m ntk_linearity.bench compare $(A) $(B) --factor $(FACTOR)

viz: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=1 $(BIN)/kedro viz run $(ARGS)

# The measured numbers of the newest run under $(DATA), with the commit its report records.
DATA ?= data
results-page: $(STAMP)
	$(BIN)/python -m ntk_linearity.pipelines.reporting.results_page $(DATA) --output docs/results.md $(ARGS)

# The DAG bakes in this checkout's absolute path (and the environment: ARGS="--env paper"), so Airflow
# may start its tasks from any folder. Other pipelines: ARGS="--pipelines data_generation".
AIRFLOW_DAGS ?= airflow_dags
airflow-dags: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=1 $(BIN)/kedro airflow create --pipelines reporting \
		--jinja-file conf/base/airflow_dag.j2 --target-dir $(AIRFLOW_DAGS) --params project_path=$(CURDIR) $(ARGS)

# Builds .venv-airflow (Airflow 3.3.2 and the project) and runs the reporting DAG of a tiny project
# with `airflow dags test` from an unrelated folder; see .ci/airflow-check.
airflow-check:
	PYTHON=$(PYTHON) .ci/airflow-check

# Pins every distribution installed in $(VENV) except the project itself.
# To bump every pin to the newest versions pyproject.toml allows:
#   make clean-venv lock
# (lock installs without the old constraints, then freezes).
lock: | $(BIN)/python
	$(BIN)/python -m pip install uv -e ".[$(EXTRAS)]"
	{ \
	  echo "# Exact pins of the CPU install (Python $$($(BIN)/python -c 'import platform; print(platform.python_version())'), $$(uname -s)/$$(uname -m))."; \
	  echo "# Generated by 'make lock' (pip freeze of $(VENV), project excluded); do not edit by hand."; \
	  echo "# Used as: pip install -c constraints.txt -e \".[test]\" (make: uv pip install, with the same pins)"; \
	  $(BIN)/python -m pip freeze --exclude-editable --exclude ntk-linearity; \
	} > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt
	touch $(STAMP)

clean-venv:
	rm -rf $(VENV)

# Screenshots of kedro-viz in Chromium (/usr/bin/chromium, `pip install playwright`) into docs/
viz-screenshots: $(STAMP)
	KEDRO_DISABLE_TELEMETRY=1 $(BIN)/python .ci/viz_screenshots.py $(ARGS)
