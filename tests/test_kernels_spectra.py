"""Dynamic-spectrum helpers against their numpy references (and skimage / your where they
define the behaviour we copy)."""

from __future__ import annotations

import numpy as np
import pytest
from frbtriage.kernels.spectra import (
    crop_centre,
    decimate_freq,
    decimate_time,
    normalise,
    resize_freq,
    zero_dm,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    decimate_freq_ref,
    decimate_time_ref,
    normalise_ref,
    resize_freq_area_ref,
    resize_freq_linear_ref,
    zero_dm_ref,
)

DTYPES = [np.float32, np.float64, np.uint8, np.int16]
FAST = settings(max_examples=40, deadline=None)


@st.composite
def arrays(draw, max_chan: int = 40, max_time: int = 120):
    nchan = draw(st.integers(1, max_chan))
    ntime = draw(st.integers(1, max_time))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 256, (nchan, ntime)).astype(dtype)
    return (rng.standard_normal((nchan, ntime)) * 20 + 100).astype(dtype)


def close(got, want, data):
    scale = max(1.0, float(np.abs(np.asarray(data, dtype=np.float64)).max()))
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6 * scale)


@FAST
@given(arrays(), st.integers(1, 10))
def test_decimate_time_matches_reference(data, factor):
    factor = min(factor, data.shape[1])
    got = decimate_time(data, factor)
    assert got.dtype == np.float32 and got.shape == (data.shape[0], data.shape[1] // factor)
    close(got, decimate_time_ref(data, factor), data)


@FAST
@given(arrays(), st.integers(1, 10))
def test_decimate_freq_matches_reference(data, factor):
    factor = min(factor, data.shape[0])
    got = decimate_freq(data, factor)
    assert got.shape == (data.shape[0] // factor, data.shape[1])
    close(got, decimate_freq_ref(data, factor), data)


@FAST
@given(arrays(), st.integers(1, 64))
def test_resize_area_matches_reference(data, nout):
    got = resize_freq(data, nout)
    assert got.dtype == np.float32 and got.shape == (nout, data.shape[1])
    close(got, resize_freq_area_ref(data, nout), data)
    # flux-conserving: the band mean of every time sample is kept
    close(got.mean(axis=0), np.asarray(data, np.float64).mean(axis=0), data)


@FAST
@given(arrays(), st.integers(1, 64))
def test_resize_linear_matches_reference(data, nout):
    got = resize_freq(data, nout, method="linear")
    close(got, resize_freq_linear_ref(data, nout), data)


def test_resize_linear_is_skimage_bilinear():
    transform = pytest.importorskip("skimage.transform")
    rng = np.random.default_rng(1)
    for nchan, nout in [(1000, 256), (300, 256), (100, 256), (832, 256)]:
        data = rng.standard_normal((nchan, 50)).astype(np.float32)
        sk = transform.resize(data, (nout, 50), order=1, mode="edge", anti_aliasing=False)
        np.testing.assert_allclose(resize_freq(data, nout, "linear"), sk, atol=1e-5)


def test_resize_area_is_close_to_fetch_resize_on_smooth_data():
    """FETCH resizes with skimage (anti-aliased, mode="constant"); on a smooth bandpass the
    two agree away from the two edge channels that mode="constant" darkens."""
    transform = pytest.importorskip("skimage.transform")
    freq = np.linspace(0, 1, 1000)[:, None]
    data = (np.sin(6 * freq) + 2 + 0 * np.arange(8)[None, :]).astype(np.float32)
    fetch = transform.resize(data, (256, 8), anti_aliasing=True, mode="constant")
    ours = resize_freq(data, 256)
    np.testing.assert_allclose(ours[2:-2], fetch[2:-2], rtol=2e-3)


def test_resize_area_equals_decimation_for_multiples_and_copies_same_size():
    data = np.random.default_rng(0).standard_normal((1024, 20)).astype(np.float32)
    np.testing.assert_allclose(resize_freq(data, 256), decimate_freq(data, 4), rtol=1e-6, atol=1e-6)
    same = resize_freq(data, 1024)
    np.testing.assert_array_equal(same, data)
    assert same is not data


def test_resize_bad_method():
    with pytest.raises(ValueError, match="method"):
        resize_freq(np.zeros((4, 4)), 2, method="cubic")
    with pytest.raises(ValueError, match="nout"):
        resize_freq(np.zeros((4, 4)), 0)


@FAST
@given(arrays())
def test_normalise_matches_reference(img):
    got = normalise(img)
    assert got.dtype == np.float32 and got.shape == img.shape
    assert np.all(np.isfinite(got))
    want = normalise_ref(img)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))


def test_normalise_like_fetch_and_constant_image_gives_zeros():
    your_math = pytest.importorskip("your.utils.math")
    img = np.random.default_rng(4).gamma(2.0, 3.0, (256, 256)).astype(np.float32)
    np.testing.assert_allclose(normalise(img), your_math.normalise(img), rtol=1e-5, atol=1e-5)
    out = normalise(img)
    assert abs(float(np.median(out))) < 1e-6 and abs(float(out.std()) - 1) < 1e-5
    const = normalise(np.full((8, 8), 7, np.uint8))
    np.testing.assert_array_equal(const, np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="empty"):
        normalise(np.zeros((0, 4)))


@FAST
@given(arrays())
def test_zero_dm_matches_reference(data):
    got = zero_dm(data)
    close(got, zero_dm_ref(data), data)


def test_zero_dm_removes_broadband_and_keeps_dispersed_signal():
    data = np.zeros((16, 9000), np.float32)  # longer than one time tile
    data[:, 8500] += 50.0  # undispersed broadband spike
    data[np.arange(16), 100 + np.arange(16)] += 8.0  # dispersed
    out = zero_dm(data)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    assert np.abs(out[:, 8500]).max() < 1e-5
    assert out[3, 103] == pytest.approx(8.0 - 0.5)


def test_crop_centre_follows_your_convention():
    data = np.arange(40).reshape(4, 10)
    np.testing.assert_array_equal(crop_centre(data, 4), data[:, 3:7])  # 10//2 - 4//2 = 3
    np.testing.assert_array_equal(crop_centre(data, 3, axis=0), data[1:4])  # 4//2 - 3//2 = 1
    with pytest.raises(ValueError, match="cannot crop"):
        crop_centre(data, 11)


@pytest.mark.parametrize("func", [decimate_time, decimate_freq])
def test_decimation_bad_factor(func):
    with pytest.raises(ValueError, match="factor"):
        func(np.zeros((4, 4)), 0)
    with pytest.raises(ValueError, match="larger than"):
        func(np.zeros((4, 4)), 5)
    with pytest.raises(ValueError, match="2-D"):
        func(np.zeros(4), 2)
