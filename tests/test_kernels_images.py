"""Fused candidate sums (kernels.images) against their numpy reference, in both layouts."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from frbtriage.kernels.images import candidate_sums
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import candidate_sums_ref

DTYPES = [np.uint8, np.uint16, np.float32]


@st.composite
def window(draw):
    """A window with delays, per-channel ``need`` (at least what the delays ask for) and a
    keep mask; samples past ``need[c]`` are NaN (channel-major) or 255 (time-major), which
    must never be read."""
    # multiples of 8 channels (with loads of 8 or 64) take the 8 x 8 byte transpose of 8-bit
    # data; decim 17 or 20 with blocks of 16 channels overflow uint16 sums, so go float32
    nchan = draw(st.integers(1, 40) | st.sampled_from([8, 16, 32, 64]))
    ndm = draw(st.integers(1, 9))
    decim = draw(st.integers(1, 7) | st.sampled_from([8, 17, 20]))
    nout = draw(st.integers(1, 24))
    maxd = draw(st.integers(0, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(DTYPES))
    time_major = draw(st.booleans())
    cblock = draw(st.sampled_from([1, 3, 4, 16]))
    lblock = draw(st.sampled_from([1, 5, 8, 64]))
    rng = np.random.default_rng(seed)
    dl = rng.integers(0, maxd + 1, (ndm, nchan))
    fd = rng.integers(0, maxd + 1, nchan)
    need = nout * decim + np.maximum(dl.max(axis=0), fd) + rng.integers(0, 4, nchan)
    ntime = int(need.max()) + int(rng.integers(0, 3))
    x = rng.integers(0, 255, (nchan, ntime)).astype(dtype)
    keep = rng.random(nchan) < 0.8
    return x, need, dl, fd, nout, decim, keep, time_major, cblock, lblock


@settings(max_examples=120, deadline=None)
@given(window())
def test_candidate_sums_match_reference(case):
    x, need, dl, fd, nout, decim, keep, time_major, cblock, lblock = case
    dmt_r, ft_r = candidate_sums_ref(x, dl, fd, nout, decim, keep)
    src = x.copy()
    for c in range(x.shape[0]):  # what lies past need[c] must not matter
        src[c, need[c]:] = np.nan if src.dtype == np.float32 else 255
    if time_major:
        src = np.ascontiguousarray(src.T)
    dmt, ft = candidate_sums(src, need, dl, fd, nout, decim, keep, time_major=time_major,
                             cblock=cblock, lblock=lblock)
    assert dmt.shape == (dl.shape[0], nout) and ft.shape == (x.shape[0], nout)
    assert dmt.dtype == ft.dtype == np.float32
    np.testing.assert_allclose(dmt, dmt_r, rtol=1e-6, atol=1e-6 * 255 * x.shape[0])
    np.testing.assert_allclose(ft, ft_r, rtol=1e-6, atol=1e-4)
    assert not ft[~keep].any()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("nchan", "decim"), [(300, 4), (304, 4), (304, 32)])
def test_8bit_sums_are_exact(threads, nchan, decim):
    """Sums of 8-bit samples are integers below 2**24: exact in float32 (and in the uint16
    block sums used while they fit), so the image does not depend on the block sizes, the
    thread count, or whether the window is transposed 8 x 8 bytes at a time (304 channels)
    or byte by byte (300)."""
    rng = np.random.default_rng(3)
    nout = 64
    dl = np.sort(rng.integers(0, 500, (32, nchan)), axis=0)
    fd = dl[16]
    need = nout * decim + dl.max(axis=0)
    x = rng.integers(0, 256, (nchan, int(need.max()))).astype(np.uint8)
    dmt_r, ft_r = candidate_sums_ref(x, dl, fd, nout, decim)
    old = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        for cblock, lblock in [(16, 64), (5, 7), (64, 64)]:
            dmt, ft = candidate_sums(np.ascontiguousarray(x.T), need, dl, fd, nout, decim,
                                     time_major=True, cblock=cblock, lblock=lblock)
            # sums exact; only the final mean's 1/decim rounds (a power of 2: exact too)
            np.testing.assert_array_equal(dmt, dmt_r.astype(np.float32))
            np.testing.assert_array_equal(ft, ft_r.astype(np.float32))
    finally:
        numba.set_num_threads(old)


def test_time_major_view_of_a_wider_array():
    """A strided time-major view (a 2-IF file's first IF) is read in place."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (8, 60)).astype(np.uint8)
    two_if = np.stack([x.T, 255 - x.T], axis=1)  # (ntime, nif, nchan)
    dl = rng.integers(0, 20, (3, 8))
    need = np.full(8, 60)
    dmt, ft = candidate_sums(two_if[:, 0, :], need, dl, dl[1], 10, 4, time_major=True)
    dmt_r, ft_r = candidate_sums_ref(x, dl, dl[1], 10, 4)
    np.testing.assert_allclose(dmt, dmt_r, rtol=1e-6)
    np.testing.assert_allclose(ft, ft_r, rtol=1e-6)


def test_errors_name_the_problem():
    x = np.zeros((4, 50), np.float32)
    dl = np.zeros((2, 4), np.int64)
    need = np.full(4, 50)
    with pytest.raises(ValueError, match="channel 1 needs 30"):
        candidate_sums(x, [50, 29, 50, 50], dl, np.zeros(4, np.int64), 10, 3)
    with pytest.raises(ValueError, match="within the data's 50"):
        candidate_sums(x, [50, 51, 50, 50], dl, np.zeros(4, np.int64), 10, 3)
    with pytest.raises(ValueError, match=">= 0"):
        candidate_sums(x, need, dl - 1, np.zeros(4, np.int64), 10, 1)
    with pytest.raises(ValueError, match="4 channels"):
        candidate_sums(x, need, np.zeros((2, 3), np.int64), np.zeros(4, np.int64), 10, 1)
    with pytest.raises(ValueError, match="real numbers"):
        candidate_sums(x.astype(bool), need, dl, np.zeros(4, np.int64), 10, 1)
    # a masked channel's need is not checked: it is never read
    dmt, ft = candidate_sums(x, [50, 0, 50, 50], dl, np.zeros(4, np.int64), 10, 3,
                             keep=[True, False, True, True])
    assert dmt.shape == (2, 10) and not ft.any()
