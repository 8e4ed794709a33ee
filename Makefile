# Two commands on a fresh machine:  `make demo`  and  `make test`.
# torch==2.13.0 is installed first so that the `torch>=2.4` range in
# pyproject.toml is already satisfied (a bare `torch` would pull a CUDA build).
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	touch $@

.PHONY: install demo test lint bench
install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/frbtriage demo

# Runs every test, the slow and browser ones included.
test: $(VENV)/.installed
	$(VENV)/bin/pytest -m "" -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_prepare.py
	$(PY) benchmarks/bench_search.py
	$(PY) benchmarks/bench_score.py
