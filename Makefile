# ior_ros: `make demo` (the main job, on the embedded simulated network) and `make test`.
# Both create .venv themselves. torch==2.13.0 is installed before the package so that pip takes the
# CPU wheel instead of a multi-GB CUDA build.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
OUT    ?= out

.PHONY: venv demo test test-all lint typecheck bench clean help

help:
	@echo "make demo   - set up .venv and run the closed loop: five nodes over DDS, DEMO_S=60 simulated s"
	@echo "make test   - set up .venv and run the test suite (slow tests skipped)"
	@echo "make test-all - also the long runs marked slow"
	@echo "make lint     - ruff on ior_ros, test, benchmarks"
	@echo "make typecheck - mypy on ior_ros (strict on core/ and clients/)"
	@echo "make bench / clean"

$(STAMP): setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

DEMO_S ?= 60

# the closed loop of sim.launch.yaml: bag, summary.json and figures in $(OUT)/demo/<time>
demo: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/ior demo --duration $(DEMO_S)

test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadgroup

test-all: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -m '' -n 2 --dist loadgroup

lint: $(STAMP)
	$(VENV)/bin/ruff check ior_ros test benchmarks

# the whole package: strict on core/ and clients/, plain mypy elsewhere (pyproject.toml [tool.mypy])
typecheck: $(STAMP)
	$(VENV)/bin/mypy ior_ros

bench: $(STAMP)
	$(PY) benchmarks/bench_ran.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
