"""The dispersion-law check (frbtriage.dispersion): the index of a sweep from its ft image."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frbtriage.dispersion import check_candidate, cold_plasma, dispersion_index, row_frequencies
from frbtriage.physics import K_DM

F_HI, F_LO, PIXEL = 800.0, 400.0, 1e-3


def sweep_image(alpha: float, dm: float, amp: float, *, seed: int = 0, nrows: int = 256,
                ntime: int = 256, width_px: float = 1.0, rows: tuple[int, int] | None = None
                ) -> np.ndarray:
    """An ``ft`` image as prepare makes it: a pulse sweeping as ``f**-alpha`` with the total
    delay across the band of cold plasma at ``dm``, dedispersed by whole-pixel delays at
    ``dm`` (so ``alpha = 2`` is a straight line), in unit-variance noise; ``rows`` limits the
    pulse to those rows (a band-limited burst)."""
    rng = np.random.default_rng(seed)
    f = row_frequencies(nrows, F_HI, F_LO)
    g = (f**-alpha - f[0] ** -alpha) / (f[-1] ** -alpha - f[0] ** -alpha)
    arrival = K_DM * dm * (f[-1] ** -2 - f[0] ** -2) * g  # s after the top row
    pos = ntime // 2 + arrival / PIXEL - np.rint(K_DM * dm * (f**-2 - f[0] ** -2) / PIXEL)
    t = np.arange(ntime)
    pulse = amp * np.exp(-0.5 * ((t[None, :] - pos[:, None]) / (width_px / 2)) ** 2)
    if rows is not None:
        pulse[: rows[0]] = 0
        pulse[rows[1]:] = 0
    return rng.normal(0.0, 1.0, (nrows, ntime)) + pulse


def index_of(img: np.ndarray, dm: float, width_px: float = 1.0):
    return dispersion_index(img, F_HI, F_LO, PIXEL, dm, width_px)


@pytest.mark.parametrize("dm", [100.0, 500.0, 1500.0])
def test_a_cold_plasma_burst_measures_two(dm: float) -> None:
    r = index_of(sweep_image(2.0, dm, 2.0, seed=int(dm)), dm)
    assert r.measured and r.consistent
    assert abs(r.index - 2.0) < 4 * r.err < 0.02
    assert r.subbands >= 8 and r.span_mhz > 300
    assert "consistent with cold plasma" in r.describe()


@pytest.mark.parametrize(("alpha", "dm"), [(1.9, 100.0), (1.95, 500.0), (2.1, 300.0),
                                           (1.5, 100.0)])
def test_a_sweep_by_another_law_is_caught(alpha: float, dm: float) -> None:
    """Peryton- and chirp-like sweeps whose band-end delays match a DM: the index is theirs,
    and far from 2 in its errors."""
    r = index_of(sweep_image(alpha, dm, 4.0, seed=7), dm)
    assert r.measured and r.consistent is False
    assert abs(r.index - alpha) < 5 * r.err + 0.003
    assert abs(r.sigma_from_cold_plasma) > 10
    assert "NOT the cold-plasma law" in r.describe()


def test_noise_is_not_measured() -> None:
    r = index_of(np.random.default_rng(3).normal(size=(256, 256)), 300.0)
    assert not r.measured and r.consistent is None and math.isnan(r.sigma_from_cold_plasma)
    assert "sub-bands" in r.reason and "not measured" in r.describe()


def test_a_faint_burst_is_not_measured_rather_than_guessed() -> None:
    r = index_of(sweep_image(1.8, 500.0, 0.3, seed=4), 500.0)
    assert not r.measured


def test_a_band_limited_burst_is_measured_where_it_shines() -> None:
    """A burst in the top 60 rows (~94 MHz): fewer sub-bands, a smaller span, a larger
    error than the full-band burst of the same brightness, and still consistent."""
    full = index_of(sweep_image(2.0, 400.0, 4.0, seed=5), 400.0)
    part = index_of(sweep_image(2.0, 400.0, 4.0, seed=5, rows=(0, 60)), 400.0)
    assert part.measured and part.consistent
    assert part.span_mhz < 100 < full.span_mhz
    assert part.err > full.err


def test_masked_channels_and_nan_are_left_out() -> None:
    img = sweep_image(2.0, 300.0, 3.0, seed=6)
    img[100:140] = 0.0  # masked channels are stored as zero rows
    img[10, 5] = np.nan
    r = index_of(img, 300.0)
    assert r.measured and r.consistent


@given(alpha=st.floats(1.8, 2.2), dm=st.floats(50.0, 1500.0), amp=st.floats(1.5, 4.0),
       width=st.sampled_from([1.0, 2.0]), seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_error_covers_the_true_index(alpha: float, dm: float, amp: float, width: float,
                                         seed: int) -> None:
    r = index_of(sweep_image(alpha, dm, amp, seed=seed, width_px=width), dm, width)
    if r.measured:
        assert abs(r.index - alpha) <= 6 * r.err + 0.003, r


def test_arguments_that_cannot_describe_an_image_are_refused() -> None:
    img = np.zeros((256, 256))
    with pytest.raises(ValueError, match="ft must be"):
        dispersion_index(np.zeros(256), F_HI, F_LO, PIXEL, 100.0)
    with pytest.raises(ValueError, match="must be positive"):
        dispersion_index(img, F_LO, F_HI, PIXEL, 100.0)
    with pytest.raises(ValueError, match="must be positive"):
        dispersion_index(img, F_HI, F_LO, 0.0, 100.0)
    assert not dispersion_index(img, F_HI, F_LO, PIXEL, 100.0).measured  # no signal


def test_prepared_sample_bursts_are_cold_plasma(samples_dir: Path, tmp_path: Path) -> None:
    """End to end on the committed sample: prepare records the image axes, and the bright
    simulated bursts measure 2 while every measured candidate gets a finite index."""
    from frbtriage.io.candidates import read_candidates
    from frbtriage.prepare import prepare_candidates
    from frbtriage.workspace import Workspace

    cands = read_candidates(samples_dir / "chime_sim" / "candidates.csv")
    with Workspace.create(tmp_path / "ws") as ws:
        prepare_candidates(ws, cands, progress=False)
        bursts = []
        for rec in ws.candidates():
            assert rec.f_hi_mhz == pytest.approx(800.0, abs=0.5)
            assert rec.f_lo_mhz == pytest.approx(400.0, abs=0.5)
            assert rec.pixel_s == pytest.approx(0.98304e-3 * max(1, rec.width // 2))
            ft, _ = ws.candidate_images(rec.id)
            r = check_candidate(rec, ft)
            truth = rec.truth
            if truth is not None and truth.value == 1 and rec.snr >= 20:
                bursts.append(r)
        assert bursts and all(r.measured and r.consistent for r in bursts), bursts


def test_a_candidate_without_axes_says_why() -> None:
    from frbtriage.db import CandidateRecord

    rec = CandidateRecord(file="x.fil", tcand=1.0, dm=100.0, width=4, snr=10.0)
    r = check_candidate(rec, np.zeros((256, 256)))
    assert not r.measured and "not recorded" in r.reason


def test_prepare_stores_the_measured_index(samples_dir: Path, tmp_path: Path) -> None:
    """prepare records the index it measured (NULL where not measured), equal to measuring
    the stored image again."""
    from frbtriage.io.candidates import read_candidates
    from frbtriage.prepare import prepare_candidates
    from frbtriage.workspace import Workspace

    cands = read_candidates(samples_dir / "chime_sim" / "candidates.csv")[:12]
    with Workspace.create(tmp_path / "ws") as ws:
        prepare_candidates(ws, cands, progress=False)
        measured = 0
        for rec in ws.candidates():
            again = check_candidate(rec, ws.candidate_images(rec.id)[0])
            if again.measured:
                measured += 1
                assert rec.dispersion_index == pytest.approx(again.index, abs=1e-9)
                assert rec.dispersion_err == pytest.approx(again.err, abs=1e-9)
                assert rec.dispersion_delay_s == pytest.approx(again.delay_s, abs=1e-9)
                assert cold_plasma(rec.dispersion_index, rec.dispersion_err,
                                   rec.dispersion_delay_s) == again.consistent
            else:
                assert rec.dispersion_index is None and rec.dispersion_err is None
        assert measured >= 2


def test_a_linear_chirp_measures_minus_one() -> None:
    """``t`` linear in ``f`` is the index -1, inside the fitted grid, so it is measured and
    flagged rather than left at the grid's end."""
    r = index_of(sweep_image(-1.0, 8.0, 4.0, seed=8), 8.0)  # the sweep stays in the window
    assert r.measured and r.consistent is False
    assert abs(r.index + 1.0) < 5 * r.err + 0.01 and r.delay_s > 0


def test_a_reversed_sweep_is_not_cold_plasma_even_at_index_two() -> None:
    """Low frequencies first (a reversed chirp reported at a small DM): the index may be 2,
    but the fitted delay is negative, which no cold plasma gives."""
    rng = np.random.default_rng(9)
    f = row_frequencies(256, F_HI, F_LO)
    late = K_DM * 8.0 * (f**-2 - f[0] ** -2) / PIXEL  # a DM-8 sweep, 155 px, not dedispersed
    pos = 50 + late[-1] - late  # mirrored: the bottom row first
    t = np.arange(256)
    img = rng.normal(size=(256, 256)) + 4.0 * np.exp(-0.5 * ((t - pos[:, None]) / 0.5) ** 2)
    r = index_of(img, 0.0)
    assert r.measured and r.delay_s < 0 and r.consistent is False
    assert "low frequencies first" in r.describe()
    fwd = index_of(sweep_image(2.0, 300.0, 4.0, seed=9), 300.0)
    assert fwd.delay_s == pytest.approx(K_DM * 300.0 * (F_LO**-2 - F_HI**-2), rel=0.05)
