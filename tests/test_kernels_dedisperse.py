"""Dedispersion kernels against their numpy references (tests/reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
from frbtriage.kernels.dedisperse import dedisperse, dedisperse_many, dedisperse_timeseries
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import dedisperse_many_ref, dedisperse_ref, dedisperse_timeseries_ref

from frbtriage.physics import delay_samples

DTYPES = [np.float32, np.float64, np.uint8, np.int16]
FAST = settings(max_examples=40, deadline=None)


def make_data(rng: np.random.Generator, nchan: int, ntime: int, dtype) -> np.ndarray:
    """Random (nchan, ntime) data of the given dtype (uint8 like 8-bit filterbanks)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -1000), min(info.max, 1000) + 1, (nchan, ntime)).astype(
            dtype
        )
    return (rng.standard_normal((nchan, ntime)) * 10 + 3).astype(dtype)


def assert_sums_close(got: np.ndarray, want: np.ndarray, nterms: int, data: np.ndarray) -> None:
    """float32 sums of ``nterms`` values vs a float64 reference."""
    scale = max(1.0, float(np.abs(np.asarray(data, dtype=np.float64)).max()))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-7 * nterms * scale)


@st.composite
def problem(draw, ndm: int | None = None):
    nchan = draw(st.integers(1, 24))
    ntime = draw(st.integers(1, 200))
    maxd = draw(st.integers(0, ntime - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(seed)
    shape = (nchan,) if ndm is None else (ndm, nchan)
    delays = rng.integers(0, maxd + 1, shape)
    delays.flat[rng.integers(delays.size)] = maxd  # the maximum is reached
    return make_data(rng, nchan, ntime, dtype), delays


@FAST
@given(problem())
def test_dedisperse_matches_reference(case):
    data, delays = case
    got = dedisperse(data, delays)
    assert got.dtype == np.float32
    assert got.shape == (data.shape[0], data.shape[1] - delays.max())
    np.testing.assert_array_equal(got, dedisperse_ref(data, delays).astype(np.float32))


@FAST
@given(problem())
def test_timeseries_matches_reference(case):
    data, delays = case
    got = dedisperse_timeseries(data, delays)
    assert got.shape == (data.shape[1] - delays.max(),)
    assert_sums_close(got, dedisperse_timeseries_ref(data, delays), data.shape[0], data)


@FAST
@given(st.integers(1, 9).flatmap(lambda n: problem(ndm=n)), st.integers(1, 70), st.integers(1, 9))
def test_many_matches_reference_for_any_tiling(case, tblock, cblock):
    data, delays = case
    got = dedisperse_many(data, delays, time_block=tblock, chan_block=cblock)
    assert got.shape == (delays.shape[0], data.shape[1] - delays.max())
    assert_sums_close(got, dedisperse_many_ref(data, delays), data.shape[0], data)


def test_many_default_tiles_on_a_larger_block():
    rng = np.random.default_rng(3)
    data = make_data(rng, 150, 3000, np.float32)
    delays = rng.integers(0, 700, (11, 150))
    got = dedisperse_many(data, delays)
    assert_sums_close(got, dedisperse_many_ref(data, delays), 150, data)
    # each row is the one-DM time series cut to the common length
    for d in (0, 5, 10):
        ts = dedisperse_timeseries(data, delays[d])
        np.testing.assert_allclose(got[d], ts[: got.shape[1]], rtol=1e-5, atol=1e-3)


def test_zero_delays_is_identity():
    data = make_data(np.random.default_rng(0), 7, 33, np.float32)
    np.testing.assert_array_equal(dedisperse(data, np.zeros(7, int)), data)
    np.testing.assert_allclose(
        dedisperse_timeseries(data, np.zeros(7, int)), data.sum(0), rtol=1e-6, atol=1e-4
    )


def test_max_delay_of_ntime_minus_one_leaves_one_sample():
    data = np.arange(20, dtype=np.float32).reshape(2, 10)
    out = dedisperse(data, [0, 9])
    np.testing.assert_array_equal(out, [[0.0], [19.0]])
    np.testing.assert_array_equal(dedisperse_many(data, [[0, 9], [9, 0]]), [[19.0], [9.0 + 10.0]])


def test_one_channel():
    data = np.arange(10, dtype=np.uint8)[None, :]
    np.testing.assert_array_equal(dedisperse(data, [3]), np.arange(3, 10, dtype=np.float32)[None])
    np.testing.assert_array_equal(dedisperse_timeseries(data, [3]), np.arange(3, 10))


def test_uint8_gives_the_same_as_float32():
    data = make_data(np.random.default_rng(5), 16, 100, np.uint8)
    delays = np.random.default_rng(6).integers(0, 30, (4, 16))
    np.testing.assert_array_equal(
        dedisperse_many(data, delays), dedisperse_many(data.astype(np.float32), delays)
    )


def test_dispersed_pulse_is_recovered_without_wraparound():
    """A pulse swept by the physics delays lines up at its top-of-band time, and nothing
    from the end of the window leaks into the start (your's roll would)."""
    nchan, ntime, t0 = 64, 1000, 40
    freqs = np.linspace(800.0, 400.0, nchan)
    delays = delay_samples(30.0, freqs, 0.98304e-3)  # up to 593 samples
    data = np.zeros((nchan, ntime), np.float32)
    data[np.arange(nchan), t0 + delays] = 1.0
    # bright samples past the end of each channel's window: must not wrap to the front
    short = delays < delays.max()
    data[short, -1] = 100.0
    ts = dedisperse_timeseries(data, delays)
    assert ts.shape == (ntime - delays.max(),)
    assert int(np.argmax(ts)) == t0 and ts[t0] == nchan
    assert ts.max() == nchan and ts[:t0].max() < 1.5
    assert dedisperse(data, delays).max() == 1.0


def test_delays_longer_than_data_raise():
    data = np.zeros((3, 50), np.float32)
    with pytest.raises(ValueError, match="longer window"):
        dedisperse(data, [0, 10, 50])
    with pytest.raises(ValueError, match="longer window"):
        dedisperse_many(data, [[0, 1, 2], [0, 0, 60]])


@pytest.mark.parametrize(
    ("data", "delays", "match"),
    [
        (np.zeros(10), [0], "2-D"),
        (np.zeros((2, 3, 4)), [0, 0], "2-D"),
        (np.zeros((3, 0)), [0, 0, 0], "at least one"),
        (np.zeros((3, 10), complex), [0, 0, 0], "real numbers"),
        (np.zeros((3, 10)), [0, 0], "2 channels but the data has 3"),
        (np.zeros((3, 10)), [0, -1, 2], ">= 0"),
        (np.zeros((3, 10)), [0.5, 1, 2], "whole numbers"),
        (np.zeros((3, 10)), [[0, 1, 2]], "1-D"),
    ],
)
def test_bad_input_raises_clear_error(data, delays, match):
    with pytest.raises(ValueError, match=match):
        dedisperse(data, delays)


def test_many_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        dedisperse_many(np.zeros((3, 10)), [0, 1, 2])
    with pytest.raises(ValueError, match="time_block"):
        dedisperse_many(np.zeros((3, 10)), [[0, 1, 2]], time_block=0)
    # integer-valued float delays are fine
    np.testing.assert_array_equal(
        dedisperse_many(np.ones((3, 10)), np.array([[0.0, 1.0, 2.0]])), np.full((1, 8), 3.0)
    )


@FAST
@given(problem(), st.integers(0, 50), st.integers(1, 50))
def test_output_window_is_a_slice_of_the_full_result(case, start, nout):
    data, delays = case
    nfull = data.shape[1] - int(delays.max())
    if start + nout > nfull:
        with pytest.raises(ValueError, match="outside"):
            dedisperse(data, delays, start, nout)
        return
    full = dedisperse(data, delays)
    np.testing.assert_array_equal(dedisperse(data, delays, start, nout), full[:, start:][:, :nout])
    np.testing.assert_allclose(
        dedisperse_timeseries(data, delays, start, nout),
        dedisperse_timeseries(data, delays)[start : start + nout],
        rtol=1e-6,
        atol=1e-3,
    )


def test_window_defaults_to_the_rest():
    data = np.arange(20, dtype=np.float32).reshape(2, 10)
    np.testing.assert_array_equal(dedisperse(data, [0, 2], start=5), [[5, 6, 7], [17, 18, 19]])
    with pytest.raises(ValueError, match="outside"):
        dedisperse(data, [0, 2], start=-1)
    with pytest.raises(ValueError, match="outside"):
        dedisperse_timeseries(data, [0, 2], start=8)


@pytest.mark.slow  # importing `your` alone takes ~3 s
def test_real_crab_pulse_lines_up_at_its_dm(real_fil):
    """Real Parkes 8-bit data (832 ch, 0.512 ms): after SK + IQRM masking, the Crab pulse
    near t = 0.946 s is the brightest boxcar of the series dedispersed at DM 56.77, and
    dedispersion at that DM raises it above DM 0."""
    your = pytest.importorskip("your")
    from frbtriage.kernels.rfi import apply_mask, iqrm_mask, sk_mask

    y = your.Your(str(real_fil))
    h = y.your_header
    data = np.ascontiguousarray(y.get_data(0, h.nspectra).T)  # (nchan, ntime) uint8
    freqs = h.fch1 + h.foff * np.arange(h.nchans)
    mask = sk_mask(data) | iqrm_mask(data)
    assert mask.sum() < 0.15 * h.nchans
    clean = apply_mask(data, mask, "median")

    def boxcar_snr(dm: float) -> np.ndarray:
        ts = dedisperse_timeseries(clean, delay_samples(dm, freqs, h.tsamp))
        np.testing.assert_allclose(
            ts, dedisperse_timeseries_ref(clean, delay_samples(dm, freqs, h.tsamp)), rtol=1e-5
        )
        b = np.convolve(ts, np.ones(8), "valid")
        med = np.median(b)
        return (b - med) / (1.4826 * np.median(np.abs(b - med)))

    snr = boxcar_snr(56.77)
    peak = int(np.argmax(snr))
    assert abs(peak * h.tsamp - 0.946) < 0.005
    assert snr[peak] > 4.0
    assert snr[peak] > boxcar_snr(0.0)[peak - 5 : peak + 5].max() + 2.0
