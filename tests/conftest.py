"""Shared fixtures. Tests that need ../shared/data/real skip with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

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
