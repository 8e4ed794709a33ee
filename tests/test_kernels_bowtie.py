"""DM-time bowtie kernel against its numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from frbtriage.kernels.bowtie import dm_time
from frbtriage.kernels.dedisperse import dedisperse_many
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import dm_time_ref

from frbtriage.physics import delay_samples

DTYPES = [np.float32, np.float64, np.uint8, np.int32]


@st.composite
def window(draw):
    """Data, delays and a kept window (start, nout, decim) that fits inside the data."""
    nchan = draw(st.integers(1, 20))
    ndm = draw(st.integers(1, 8))
    decim = draw(st.integers(1, 6))
    nout = draw(st.integers(1, 30))
    maxd = draw(st.integers(0, 60))
    start = draw(st.integers(0, 20))
    extra = draw(st.integers(0, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(seed)
    ntime = start + nout * decim + maxd + extra
    delays = rng.integers(0, maxd + 1, (ndm, nchan))
    data = rng.integers(0, 256, (nchan, ntime)).astype(dtype)
    return data, delays, start, nout, decim


@settings(max_examples=50, deadline=None)
@given(window())
def test_dm_time_matches_reference(case):
    data, delays, start, nout, decim = case
    got = dm_time(data, delays, start, nout, decim)
    assert got.dtype == np.float32 and got.shape == (delays.shape[0], nout)
    want = dm_time_ref(data, delays, start, nout, decim)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * data.shape[0])


def test_undecimated_full_window_equals_many_dm_dedispersion():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((40, 500)).astype(np.float32)
    delays = rng.integers(0, 120, (12, 40))
    nout = 500 - int(delays.max())
    np.testing.assert_allclose(
        dm_time(data, delays, 0, nout, 1), dedisperse_many(data, delays), rtol=1e-5, atol=1e-4
    )


def test_window_may_end_exactly_at_the_last_sample():
    data = np.arange(30, dtype=np.float32).reshape(3, 10)
    delays = np.array([[0, 0, 0], [0, 1, 2]])
    # both windows need samples up to 4 + 2*2 - 1 + 2 = 7 + 1*1 - 1 + 2 = 9, the last one
    out = dm_time(data, delays, 4, 2, 2)
    np.testing.assert_allclose(out, dm_time_ref(data, delays, 4, 2, 2))
    assert dm_time(data, delays, 7, 1, 1).shape == (2, 1)


def test_bowtie_peaks_at_true_dm_and_time():
    """A burst at DM 50 gives the DM-time bowtie: peak at the DM 50 row, centred in time."""
    nchan, tsamp = 128, 0.98304e-3
    freqs = np.linspace(800.0, 400.0, nchan)
    dms = np.linspace(0.0, 100.0, 65)  # 0 .. 2 DM, row 32 is DM 50
    delays = delay_samples(dms[:, None], freqs, tsamp)
    t_burst, decim, nout = 3000, 4, 64
    ntime = t_burst + int(delays.max()) + 400
    rng = np.random.default_rng(0)
    data = rng.normal(0.0, 1.0, (nchan, ntime)).astype(np.float32)
    for w in range(decim):  # a burst `decim` samples wide at DM 50
        data[np.arange(nchan), t_burst + w + delays[32]] += 5.0
    start = t_burst - (nout // 2) * decim  # burst at output column nout // 2
    img = dm_time(data, delays, start, nout, decim)
    d, j = np.unravel_index(np.argmax(img), img.shape)
    assert (d, j) == (32, nout // 2)
    # bowtie: away from the true DM, the peak spreads and drops
    assert img[0].max() < 0.5 * img[32].max()


@pytest.mark.parametrize(
    ("start", "nout", "decim", "match"),
    [
        (0, 0, 1, "nout and decim"),
        (0, 5, 0, "nout and decim"),
        (-1, 5, 1, "before the data"),
        (0, 8, 1, "longer window"),  # needs up to 0 + 8 - 1 + 3 = 10 >= 10
        (2, 3, 2, "longer window"),  # needs up to 2 + 6 - 1 + 3 = 10
    ],
)
def test_out_of_range_windows_raise(start, nout, decim, match):
    data = np.zeros((2, 10), np.float32)
    delays = np.array([[0, 3], [0, 1]])
    with pytest.raises(ValueError, match=match):
        dm_time(data, delays, start, nout, decim)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="2-D"):
        dm_time(np.zeros((2, 10)), [0, 1], 0, 2, 1)
    with pytest.raises(ValueError, match="2-D"):
        dm_time(np.zeros(10), [[0]], 0, 2, 1)
    with pytest.raises(ValueError, match="channels"):
        dm_time(np.zeros((2, 10)), [[0, 1, 2]], 0, 2, 1)
