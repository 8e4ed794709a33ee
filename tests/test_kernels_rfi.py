"""RFI channel masks (IQRM, spectral kurtosis) and mask application vs numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from frbtriage.kernels.rfi import (
    apply_mask,
    channel_std,
    iqrm_lags,
    iqrm_mask,
    iqrm_votes,
    sk_mask,
    spectral_kurtosis,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    apply_mask_ref,
    channel_std_ref,
    iqrm_ref,
    sk_mask_ref,
    spectral_kurtosis_ref,
)

FAST = settings(max_examples=40, deadline=None)


def noisy_band(rng, nchan, ntime, hot=(), dtype=np.float32):
    """Exponential (power-like) noise on a bandpass, with ``hot`` channels 10x noisier."""
    band = 50 + 20 * np.sin(np.linspace(0, 3, nchan))[:, None]
    data = band * rng.exponential(1.0, (nchan, ntime))
    for c in hot:
        data[c] *= rng.uniform(5, 20, ntime)
    return data.astype(dtype)


def test_lags_follow_the_paper():
    assert iqrm_lags(10).tolist() == [1, -1, 2, -2, 3, -3, 4, -4, 6, -6, 9, -9]
    assert iqrm_lags(1).tolist() == [1, -1]
    with pytest.raises(ValueError, match="radius"):
        iqrm_lags(0)


@FAST
@given(st.integers(2, 300), st.integers(1, 40), st.floats(0.5, 6.0), st.integers(0, 2**32 - 1))
def test_iqrm_votes_match_reference(n, radius, threshold, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 0.1, n)
    bad = rng.choice(n, size=rng.integers(0, max(1, n // 8) + 1), replace=False)
    x[bad] += rng.uniform(0.5, 5.0, bad.size)
    np.testing.assert_array_equal(iqrm_votes(x, radius, threshold), iqrm_ref(x, radius, threshold))


def test_iqrm_mask_flags_hot_channels_only():
    rng = np.random.default_rng(7)
    hot = [3, 100, 101, 102, 400, 511]
    data = noisy_band(rng, 512, 2000, hot)
    mask = iqrm_mask(data, threshold=3.0)
    assert mask.shape == (512,) and mask.dtype == np.bool_
    assert set(hot) <= set(np.flatnonzero(mask))
    assert mask.sum() <= len(hot) + 3
    np.testing.assert_array_equal(mask, iqrm_ref(channel_std_ref(data), 51, 3.0))


@FAST
@given(st.integers(1, 30), st.integers(1, 80), st.sampled_from([np.float32, np.uint8, np.float64]))
def test_channel_std_matches_reference(nchan, ntime, dtype):
    data = noisy_band(np.random.default_rng(nchan * 1000 + ntime), nchan, ntime, dtype=dtype)
    # the kernel reads its input as float32 (as every kernel does), so float64 input is
    # compared on the float32 values it sees: with 2 samples, std = |a - b| / 2 of values
    # near 50 loses ~1e-5 relative to float32 rounding of a and b alone
    np.testing.assert_allclose(channel_std(data), channel_std_ref(data.astype(np.float32)),
                               rtol=1e-6, atol=1e-9)


@FAST
@given(st.integers(1, 30), st.integers(2, 80), st.integers(0, 2**32 - 1))
def test_spectral_kurtosis_matches_reference(nchan, ntime, seed):
    data = noisy_band(np.random.default_rng(seed), nchan, ntime)
    data[0] = 0.0  # a dead channel -> NaN
    np.testing.assert_allclose(
        spectral_kurtosis(data, 2.0, 1.0), spectral_kurtosis_ref(data, 2.0, 1.0), rtol=1e-6
    )


def test_spectral_kurtosis_of_power_noise_is_one():
    """Exponentially distributed power (N=1, d=1): SK is unbiased with variance ~4/M."""
    data = np.random.default_rng(0).exponential(3.0, (256, 4000))
    sk = spectral_kurtosis(data)
    assert abs(float(sk.mean()) - 1.0) < 3 * np.sqrt(4 / 4000) / np.sqrt(256)
    assert 0.5 < float(sk.std()) / np.sqrt(4 / 4000) < 1.5


def test_sk_mask_flags_intermittent_rfi_and_dead_channels():
    rng = np.random.default_rng(1)
    data = noisy_band(rng, 128, 3000)
    data[17, ::100] += 5000.0  # impulsive RFI: high kurtosis
    data[90] = 60.0  # constant (CW-like after detection): SK far below 1
    data[120] = 0.0  # dead
    mask = sk_mask(data, sigma=5.0)
    assert {17, 90, 120} <= set(np.flatnonzero(mask))
    assert mask.sum() <= 6
    np.testing.assert_array_equal(mask, sk_mask_ref(data, 5.0))


@FAST
@given(st.integers(2, 40), st.integers(2, 60), st.floats(1.0, 6.0), st.integers(0, 2**32 - 1))
def test_sk_mask_matches_reference(nchan, ntime, sigma, seed):
    rng = np.random.default_rng(seed)
    data = noisy_band(rng, nchan, ntime)
    data[rng.integers(nchan), :: max(1, ntime // 5)] *= 50
    np.testing.assert_array_equal(sk_mask(data, sigma), sk_mask_ref(data, sigma))


@pytest.mark.parametrize("fill", ["zero", "median"])
def test_apply_mask_matches_reference(fill):
    rng = np.random.default_rng(2)
    data = rng.integers(0, 256, (20, 33)).astype(np.uint8)
    mask = np.zeros(20, bool)
    mask[[0, 5, 19]] = True
    got = apply_mask(data, mask, fill)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, apply_mask_ref(data, mask, fill))
    np.testing.assert_array_equal(got[~mask], data[~mask])
    # the input is left alone
    assert apply_mask(got, mask, fill) is not got


def test_bad_input_raises():
    with pytest.raises(ValueError, match="shape"):
        apply_mask(np.zeros((3, 4)), np.zeros(4, bool))
    with pytest.raises(ValueError, match="boolean"):
        apply_mask(np.zeros((3, 4)), np.zeros(3, int))
    with pytest.raises(ValueError, match="fill"):
        apply_mask(np.zeros((3, 4)), np.ones(3, bool), fill="mean")
    with pytest.raises(ValueError, match="NaN"):
        iqrm_votes([1.0, np.nan, 2.0], 1)
    with pytest.raises(ValueError, match="threshold"):
        iqrm_votes([1.0, 2.0], 1, threshold=0)
    with pytest.raises(ValueError, match="1-D"):
        iqrm_votes(np.zeros((2, 2)), 1)
    with pytest.raises(ValueError, match="2 time samples"):
        spectral_kurtosis(np.ones((3, 1)))
    with pytest.raises(ValueError, match="sigma"):
        sk_mask(np.ones((3, 5)), sigma=-1)
    with pytest.raises(ValueError, match="2-D"):
        iqrm_mask(np.zeros(5))
