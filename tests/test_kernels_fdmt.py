"""FDMT against a plain-numpy brute-force dedispersion."""

from __future__ import annotations

import numpy as np
import pytest
from frbtriage.kernels.fdmt import (
    delay_to_dm,
    dm_to_delay,
    fdmt,
    fdmt_channel_delays,
    fdmt_plan,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import brute_force_sweeps

from frbtriage.physics import delay_samples


def _pulse(nchan, ntime, freqs, sweep, t0, width, amp, rng, noise=1.0):
    g = (freqs**-2 - freqs.max() ** -2) / (freqs.min() ** -2 - freqs.max() ** -2)
    x = rng.normal(0, noise, (nchan, ntime)).astype(np.float32)
    for c in range(nchan):
        s = t0 + int(np.rint(sweep * g[c]))
        x[c, s : s + width] += amp
    return x


def test_zero_dm_exact():
    rng = np.random.default_rng(1)
    freqs = np.linspace(800.0, 400.0, 48)
    x = rng.integers(-20, 20, (48, 300)).astype(np.float32)
    out = fdmt(x, fdmt_plan(freqs, 40))
    assert out.shape == (41, 260)
    np.testing.assert_array_equal(out[0], x.sum(0)[:260])


def test_matches_brute_force_with_effective_delays():
    rng = np.random.default_rng(2)
    nchan, ntime, maxd = 37, 400, 90  # odd channel count: carried nodes
    freqs = np.linspace(400.0, 800.0, nchan)  # ascending
    plan = fdmt_plan(freqs, maxd)
    x = rng.normal(size=(nchan, ntime)).astype(np.float32)
    out = fdmt(x, plan)
    ideal_g = (freqs**-2 - freqs.max() ** -2) / (freqs.min() ** -2 - freqs.max() ** -2)
    errs = []
    for d in range(maxd + 1):
        eff = fdmt_channel_delays(plan, d)
        assert eff.min() == 0 and eff.max() == d
        errs.append(np.abs(eff - np.rint(d * ideal_g)))
        ref = sum(x[c, eff[c] : eff[c] + ntime - maxd].astype(np.float64) for c in range(nchan))
        np.testing.assert_allclose(out[d], ref, atol=2e-4)
    assert np.max(errs) <= 2 and np.mean(errs) <= 0.5  # the tree's rounding: about 0.3 on average


@given(
    nchan=st.integers(1, 70),
    maxd=st.integers(0, 60),
    extra=st.integers(1, 50),
    descending=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_property_shapes_and_tolerance(nchan, maxd, extra, descending):
    if nchan == 1:
        maxd = 0
    rng = np.random.default_rng(nchan * 1000 + maxd)
    freqs = np.linspace(400.0, 800.0, nchan) if nchan > 1 else np.array([600.0])
    if descending:
        freqs = freqs[::-1].copy()
    ntime = maxd + extra
    x = rng.normal(size=(nchan, ntime)).astype(np.float32)
    plan = fdmt_plan(freqs, maxd)
    out = fdmt(x, plan)
    assert out.shape == (maxd + 1, extra)
    np.testing.assert_allclose(out[0], x.sum(0)[:extra], atol=1e-4)
    if nchan > 1:
        g = (freqs**-2 - freqs.max() ** -2) / (freqs.min() ** -2 - freqs.max() ** -2)
        for d in {0, maxd // 2, maxd}:
            eff = fdmt_channel_delays(plan, d)
            assert np.abs(eff - np.rint(d * g)).max() <= 2


@pytest.mark.parametrize("descending", [False, True])
def test_injected_pulse_peak_and_snr(descending):
    rng = np.random.default_rng(3)
    nchan, ntime, maxd = 128, 1500, 300
    freqs = np.linspace(800.0, 400.0, nchan)
    if not descending:
        freqs = freqs[::-1].copy()
    true_sweep, t0 = 217, 400
    x = _pulse(nchan, ntime, freqs, true_sweep, t0, 4, 2.0, rng)
    out = fdmt(x, fdmt_plan(freqs, maxd))
    ref = brute_force_sweeps(x, freqs, np.arange(maxd + 1))
    d_f, t_f = np.unravel_index(np.argmax(out), out.shape)
    d_r, t_r = np.unravel_index(np.argmax(ref), ref.shape)
    assert abs(d_f - true_sweep) <= 2 and abs(d_r - true_sweep) <= 2
    assert abs(t_f - t0) <= 4 and abs(t_r - t0) <= 4
    sig = np.sqrt(nchan)
    assert out.max() / sig == pytest.approx(ref.max() / sig, rel=0.05)
    assert out.max() / sig > 20


def test_dm_delay_helpers_roundtrip():
    f_lo, f_hi, tsamp = 400.0, 800.0, 0.98304e-3
    d = dm_to_delay(2000.0, f_lo, f_hi, tsamp)
    # the sweep from physics' rounded delays agrees
    assert int(np.rint(d)) == int(delay_samples(2000.0, np.array([f_lo, f_hi]), tsamp).max())
    assert delay_to_dm(d, f_lo, f_hi, tsamp) == pytest.approx(2000.0)


def test_bad_arguments():
    with pytest.raises(ValueError):
        fdmt_plan([400.0, 500.0, 450.0], 4)
    with pytest.raises(ValueError):
        fdmt_plan([400.0, 500.0], -1)
    plan = fdmt_plan(np.linspace(400, 800, 8), 10)
    with pytest.raises(ValueError):
        fdmt(np.zeros((8, 10), np.float32), plan)
    with pytest.raises(ValueError):
        fdmt(np.zeros((7, 100), np.float32), plan)


@given(
    nchan=st.integers(2, 70),
    maxd=st.integers(0, 80),
    frac=st.floats(0.0, 1.0),
    extra=st.integers(1, 40),
    descending=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_property_min_delay_is_the_full_plans_rows(nchan, maxd, frac, extra, descending):
    """A plan from ``mindelay`` gives exactly the full plan's trials ``mindelay..maxdelay``,
    and those are the brute force with the plan's effective delays; it needs fewer rows."""
    mind = int(frac * maxd)
    freqs = np.linspace(400.0, 800.0, nchan)
    if descending:
        freqs = freqs[::-1].copy()
    x = np.random.default_rng(nchan + 97 * maxd).normal(size=(nchan, maxd + extra))
    x = x.astype(np.float32)
    full, part = fdmt_plan(freqs, maxd), fdmt_plan(freqs, maxd, mind)
    assert part.ndelay == maxd - mind + 1 and part.max_rows <= full.max_rows
    got = fdmt(x, part)
    np.testing.assert_array_equal(got, fdmt(x, full)[mind:])
    for d in {mind, (mind + maxd) // 2, maxd}:
        eff = fdmt_channel_delays(part, d)
        np.testing.assert_array_equal(eff, fdmt_channel_delays(full, d))
        ref = sum(x[c, eff[c]:eff[c] + extra].astype(np.float64) for c in range(nchan))
        np.testing.assert_allclose(got[d - mind], ref, atol=2e-4)


def test_min_delay_bounds():
    freqs = np.linspace(400.0, 800.0, 16)
    with pytest.raises(ValueError, match="mindelay"):
        fdmt_plan(freqs, 10, 11)
    with pytest.raises(ValueError, match="outside"):
        fdmt_channel_delays(fdmt_plan(freqs, 10, 4), 3)
