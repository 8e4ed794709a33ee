"""Start-up hygiene: each verb imports only what it uses (issue 13).

A script or a real-time trigger may call the CLI once per candidate, so a verb must not pay
for modules it never calls: ``your`` (~1 s: astropy, scipy.stats) only for PSRFITS, torch only
where a model scores or trains, nothing heavy for ``--version`` and ``--help``. Each case
runs the verb in a fresh interpreter and lists which watched modules ended up in
``sys.modules`` (a module-hygiene test, not a timer; ``benchmarks/bench_startup.py`` times).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Modules whose presence is checked after a verb ran.
WATCHED = ("numpy", "numba", "sqlalchemy", "zarr", "torch", "your", "astropy", "scipy.stats",
           "matplotlib", "h5py", "dask", "distributed", "streamlit", "alembic", "safetensors")
#: Never loaded by a verb that neither reads PSRFITS nor scores, trains or serves.
HEAVY = {"torch", "your", "astropy", "scipy.stats", "matplotlib", "h5py", "dask",
         "distributed", "streamlit", "safetensors"}

_PROBE = """
import json, sys
from frbtriage.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": [m for m in WATCHED if m in sys.modules]}))
""".replace("WATCHED", repr(WATCHED))


def loaded_by(argv: list[str], cwd: Path) -> set[str]:
    """Run ``frbtriage ARGV`` in a new interpreter; the watched modules it imported."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True,
                          text=True, cwd=cwd, timeout=600)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["code"] == 0, (argv, proc.stderr[-2000:])
    return set(out["loaded"])


@pytest.fixture(scope="module")
def one_candidate(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A your/FETCH list holding one candidate (the sample's brightest burst)."""
    d = samples_dir / "chime_sim"
    path = tmp_path_factory.mktemp("startup") / "one.csv"
    path.write_text("file,snr,stime,width,dm,label,chan_mask_path,num_files\n"
                    f"{d / 'obs.fil'},57.6001,3.383938,6,725.1812,1,{d / 'obs.bad_chans'},1\n")
    return path


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["prepare", "--help"],
                                  ["search", "--help"], ["rank", "--help"],
                                  ["queue", "--help"]])
def test_version_and_help_import_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    # numpy, numba and sqlalchemy too: --help of a verb needs only argparse
    allowed = {"sqlalchemy", "numpy"} if argv[0] == "queue" else set()  # its defaults
    assert loaded_by(argv, tmp_path) - allowed == set()


def test_prepare_loads_no_model_no_your(one_candidate: Path, tmp_path: Path) -> None:
    loaded = loaded_by(["prepare", "--workspace", str(tmp_path / "ws"),
                        "--candidates", str(one_candidate), "--no-progress"], tmp_path)
    assert {"numba", "sqlalchemy", "zarr"} <= loaded  # it did run
    assert loaded & HEAVY == set()


def test_search_loads_no_database_no_model(samples_dir: Path, tmp_path: Path) -> None:
    loaded = loaded_by(["search", str(samples_dir / "chime_sim" / "obs.fil"), "--dm-max", "100",
                        "-o", str(tmp_path / "c.csv"), "--no-progress"], tmp_path)
    assert "numba" in loaded
    assert loaded & (HEAVY | {"sqlalchemy", "zarr", "alembic"}) == set()


def test_rank_loads_torch_but_not_your(one_candidate: Path, tmp_path: Path) -> None:
    """The probe's positive control: scoring does load torch (and safetensors)."""
    loaded = loaded_by(["rank", str(one_candidate), "-o", str(tmp_path / "r.csv"),
                        "--device", "cpu"], tmp_path)
    assert {"torch", "safetensors"} <= loaded
    assert loaded & {"your", "astropy", "scipy.stats", "streamlit", "dask"} == set()
