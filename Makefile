# Two commands on a fresh machine:  `make demo`  and  `make test`.
# torch==2.13.0 is installed first so that the `torch>=2.4` range in
# pyproject.toml is already satisfied (a bare `torch` would pull a CUDA build).
VENV ?= .venv
PY := $(VENV)/bin/python

# The last step compiles the Numba kernels into their on-disk cache (kernels/__pycache__ of
# this editable install; ~30 s on 2 cores), so that the first `make demo` does not compile.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]"
	$(VENV)/bin/frbtriage warmup
	touch $@

# The postgres tests start their own throw-away server (tests/throwaway_pg.py) and need the
# server binaries, /usr/lib/postgresql/VERSION/bin on Debian. Installed here only when
# missing, and only as root with apt-get (CI); elsewhere those tests skip, or fail when CI is
# set. postgresql-common goes first so that its settings can stop the package from creating
# (and starting) a system "main" cluster, which the tests never use.
PG_INITDB := $(wildcard /usr/lib/postgresql/*/bin/initdb)

# The browser tests drive Debian's chromium (/usr/bin/chromium) through Playwright, which
# cannot download its own browsers here; installed when missing, as root with apt-get.
CHROMIUM := $(wildcard /usr/bin/chromium)

.PHONY: install demo test lint bench postgres chromium
install: $(VENV)/.installed

postgres:
ifeq ($(PG_INITDB),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive && apt-get update -q \
		&& apt-get install -y -q --no-install-recommends postgresql-common \
		&& sed -ri 's/^#? *create_main_cluster *=.*/create_main_cluster = false/' \
			/etc/postgresql-common/createcluster.conf \
		&& apt-get install -y -q --no-install-recommends postgresql; \
	else \
		echo "No PostgreSQL and not root with apt-get: postgres tests skip (fail if CI is set)"; \
	fi
else
	@: PostgreSQL already installed
endif

demo: $(VENV)/.installed
	$(VENV)/bin/frbtriage demo

chromium:
ifeq ($(CHROMIUM),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive && apt-get update -q \
		&& apt-get install -y -q --no-install-recommends chromium; \
	else \
		echo "No /usr/bin/chromium and not root with apt-get: browser tests skip (fail if CI is set)"; \
	fi
else
	@: chromium already installed
endif

# Runs every test, the slow, browser and postgres ones included.
test: $(VENV)/.installed postgres chromium
	$(VENV)/bin/pytest -m "" -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_prepare.py
	$(PY) benchmarks/bench_search.py
	$(PY) benchmarks/bench_score.py
	$(PY) benchmarks/bench_nightly.py
	$(PY) benchmarks/bench_app.py
	$(PY) benchmarks/bench_active.py
	$(PY) benchmarks/bench_startup.py
