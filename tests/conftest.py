"""Shared fixtures. Tests that need ../shared/data/real skip with a reason when it is absent.

PostgreSQL (marker ``postgres``, added to every test that uses it): ``pg_server`` starts one
throw-away server per session (``tests/throwaway_pg.py``), ``pg_url`` gives a test its own
fresh database on it, and ``db_url`` runs a test once on SQLite and once on PostgreSQL.
Without PostgreSQL installed these skip with the reason, except when the environment variable
``CI`` is set: then they fail, so CI never silently skips them (``make test`` installs
PostgreSQL on Debian when run as root).
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from throwaway_pg import PgServer, find_bindir, start_server

ROOT = Path(__file__).resolve().parents[1]
REAL_DIR = ROOT.parent / "shared" / "data" / "real"
SAMPLES = ROOT / "data_samples"


@pytest.fixture(scope="session")
def real_fil() -> Path:
    """The real Parkes 8-bit Crab filterbank (832 ch, 0.512 ms, 4096 samples, DM 56.77)."""
    path = REAL_DIR / "parkes_8bit_1.fil"
    if not path.exists():
        pytest.skip(f"real data not found at {path} (checkout without ../shared/data/real)")
    return path


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The committed data_samples/ folder."""
    return SAMPLES


@pytest.fixture(scope="session")
def sim_obs(tmp_path_factory: pytest.TempPathFactory):  # -> frbtriage.simulate.SimulationResult
    """A small simulated observation (1024 ch x 15 s, seed 11, 4 bursts, default RFI) written
    once per session into a temporary folder. Returns the ``SimulationResult``: ``.fil_path``,
    ``.truth_path``, ``.candidates_path``, ``.mask_path``, ``.out_dir``, ``.truth``,
    ``.candidates``, ``.layout``. Treat the files as read-only."""
    from frbtriage.simulate import simulate_observation

    out = tmp_path_factory.mktemp("sim_obs")
    return simulate_observation(out, minutes=0.25, nchan=1024, seed=11, n_bursts=4)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``postgres`` every test that uses the PostgreSQL server."""
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throw-away PostgreSQL server for this session (fresh temporary folder, trust
    authentication, 127.0.0.1 only); ``pg_server.url()`` is the SQLAlchemy URL
    ``postgresql+psycopg://postgres@127.0.0.1:PORT/frbtriage`` of the database it made.
    Stopped and deleted at the end of the session, also when tests fail, on Ctrl-C, and (by
    its guard process) when pytest is killed."""
    try:
        import psycopg  # noqa: F401  (the driver of postgresql+psycopg:// URLs)
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    bindir = find_bindir()
    if bindir is None:
        _unavailable("PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/initdb "
                     "nor initdb on PATH); `make test` installs it on Debian when run as root")
    t0 = time.perf_counter()
    server = start_server(bindir)
    try:
        print(f"\nPostgreSQL from {bindir} on 127.0.0.1:{server.port}, "
              f"started in {time.perf_counter() - t0:.2f} s")
        yield server
    finally:
        server.stop()


_DB_NUMBER = itertools.count()


@pytest.fixture
def pg_url(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, empty database on the session's PostgreSQL server for this test
    alone, dropped afterwards (connections left open are ended)."""
    name = f"t{next(_DB_NUMBER)}_{re.sub(r'[^a-z0-9_]', '_', request.node.name.lower())}"[:63]
    try:
        yield pg_server.create_database(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once SQLite (a file in ``tmp_path``) and once PostgreSQL
    (``pg_url``): for tests that must hold on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


def _unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when ``CI`` is set."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the postgres tests must run)", pytrace=False)
    pytest.skip(reason)
