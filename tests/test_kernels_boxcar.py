"""Boxcar S/N, robust normalisation and run-peak finding against numpy references."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest
from frbtriage.kernels.boxcar import (
    _median,
    boxcar_snr,
    boxcar_snr_robust,
    find_peaks,
    robust_normalise,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    boxcar_snr_ref,
    boxcar_snr_robust_ref,
    find_peaks_ref,
    robust_normalise_ref,
)


@given(
    ndm=st.integers(1, 6),
    ntime=st.integers(1, 200),
    widths=st.lists(st.integers(1, 40), min_size=1, max_size=6, unique=True),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_boxcar_matches_reference(ndm, ntime, widths, seed):
    widths = sorted(widths)
    if max(widths) > ntime:
        widths = [w for w in widths if w <= ntime] or [1]
    x = np.random.default_rng(seed).normal(size=(ndm, ntime)).astype(np.float32)
    nout = ntime - max(widths) + 1
    snr, widx = boxcar_snr(x, widths)
    ref_snr, ref_idx = boxcar_snr_ref(x, widths, nout)
    assert snr.shape == widx.shape == (ndm, nout)
    np.testing.assert_allclose(snr, ref_snr, rtol=1e-4, atol=1e-4)
    # the chosen width gives the best S/N (ties may pick either index)
    chosen = np.take_along_axis(
        np.stack([boxcar_snr_ref(x, [w], nout)[0] for w in widths]), widx[None], 0
    )[0]
    np.testing.assert_allclose(chosen, ref_snr, rtol=1e-4, atol=1e-4)


def test_boxcar_finds_width_and_snr():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4000)).astype(np.float32)
    x[1, 1000:1016] += 2.0  # expected S/N 2*16/4 = 8 above noise
    snr, widx = boxcar_snr(x, [1, 2, 4, 8, 16, 32])
    r, t = np.unravel_index(np.argmax(snr), snr.shape)
    assert r == 1 and abs(t - 1000) <= 4
    assert [1, 2, 4, 8, 16, 32][widx[r, t]] in (8, 16, 32)
    assert 6.5 < snr[r, t] < 11


def test_boxcar_bad_args():
    x = np.zeros((2, 10), np.float32)
    with pytest.raises(ValueError):
        boxcar_snr(x, [0, 2])
    with pytest.raises(ValueError):
        boxcar_snr(x, [4], nout=8)
    with pytest.raises(ValueError):
        boxcar_snr(np.zeros(10, np.float32), [1])


@given(ndm=st.integers(1, 5), ntime=st.integers(1, 5000), seed=st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_robust_normalise_matches_reference(ndm, ntime, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(3.0, 2.0, (ndm, ntime))).astype(np.float32)
    if ndm > 1:
        x[0] = 7.0  # constant row -> zeros
    out = robust_normalise(x, nsub=256)
    np.testing.assert_allclose(out, robust_normalise_ref(x, 256), rtol=1e-4, atol=1e-4)
    if ndm > 1:
        assert not out[0].any()


def test_robust_normalise_ignores_outliers():
    rng = np.random.default_rng(6)
    x = rng.normal(10.0, 3.0, (2, 20000)).astype(np.float32)
    x[:, 5000:5100] = 1e6
    out = robust_normalise(x)
    assert abs(np.median(out)) < 0.05
    assert 0.95 < np.std(out[:, :5000]) < 1.05


@given(ndm=st.integers(1, 4), n=st.integers(1, 300), thr=st.floats(-1, 2), seed=st.integers(0, 999))
@settings(max_examples=60, deadline=None)
def test_find_peaks_matches_reference(ndm, n, thr, seed):
    snr = np.random.default_rng(seed).normal(size=(ndm, n)).astype(np.float32)
    rows, cols = find_peaks(snr, thr)
    ref_rows, ref_cols = find_peaks_ref(snr, np.float32(thr))
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(cols, ref_cols)


@given(ndm=st.integers(1, 5), ntime=st.integers(8, 3000), seed=st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_boxcar_normalise_on_the_fly_equals_two_steps(ndm, ntime, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 3.0, (ndm, ntime)).astype(np.float32)
    x[0, ntime // 2] += 40.0
    a, ia = boxcar_snr(x, [1, 2, 4, 8], normalise=True, nsub=256)
    b, ib = boxcar_snr(robust_normalise(x, nsub=256), [1, 2, 4, 8])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


@given(ndm=st.integers(1, 4), ntime=st.integers(20, 600), seed=st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_boxcar_robust_matches_reference(ndm, ntime, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 1.5, (ndm, ntime)).astype(np.float32)
    widths = [1, 3, 8]
    snr, widx = boxcar_snr_robust(x, widths, nsub=64)
    ref = boxcar_snr_robust_ref(x, widths, ntime - 7, 64)
    np.testing.assert_allclose(snr, ref, rtol=1e-4, atol=1e-3)


def test_boxcar_robust_not_fooled_by_red_noise():
    rng = np.random.default_rng(9)
    white = rng.normal(size=20000)
    red = np.convolve(white, np.ones(32) / np.sqrt(32), "same").astype(np.float32)[None]
    s_white, _ = boxcar_snr(red, [32], normalise=True)
    s_robust, _ = boxcar_snr_robust(red, [32])
    assert s_white.max() > 15  # white-noise S/N of a red series is inflated ~sqrt(32)
    assert s_robust.max() < 6


def test_out_buffers_and_strided_views():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 300)).astype(np.float32)
    big = np.zeros((8, 400), np.float32)
    big[:6, :300] = x
    view = big[:6, :300]  # row-strided, as the FDMT output is
    ref = boxcar_snr(x, [1, 2, 4], normalise=True)
    out = (np.full((10, 400), -1, np.float32), np.full((10, 400), -1, np.int8))
    got = boxcar_snr(view, [1, 2, 4], normalise=True, out=out)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    assert np.shares_memory(got[0], out[0])
    rows, cols = find_peaks(got[0], 2.5)
    ref_rows, ref_cols = find_peaks_ref(ref[0], np.float32(2.5))
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_array_equal(cols, ref_cols)
    with pytest.raises(ValueError):
        boxcar_snr(x, [1], out=(np.zeros((2, 2), np.float32), np.zeros((2, 2), np.int8)))


@nb.njit
def _medians(x):  # pragma: no cover - numba: one median per row, through the kernels' own
    out = np.empty(x.shape[0])
    for r in range(x.shape[0]):
        out[r] = _median(x[r].copy())
    return out


@given(
    n=st.one_of(st.integers(1, 600), st.integers(600, 5000)),
    kind=st.sampled_from(["normal", "few values", "constant", "sorted", "reversed", "outliers",
                          "sample fooled"]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=80, deadline=None)
def test_median_equals_numpy(n, kind, seed):
    """The bracketed median (quickselect on the part of the data between two order
    statistics of a sample, above 256 elements) is np.median exactly, for odd and even sizes,
    ties (8-bit data), sorted data, outliers, and data whose sampled elements are all huge
    (the bracket misses the middle: the whole-array quickselect answers)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, n))
    if kind == "few values":
        x = np.round(x * 2)
    elif kind == "constant":
        x[:] = 7.0
    elif kind == "sorted":
        x.sort(axis=1)
    elif kind == "reversed":
        x = -np.sort(x, axis=1)
    elif kind == "outliers":
        x[:, ::3] += 1e6
    elif kind == "sample fooled":  # the elements _median samples: a[(i * n) // 64]
        x[:, (np.arange(64) * n) // 64] = 1e6
    np.testing.assert_array_equal(_medians(x), np.median(x, axis=1))
