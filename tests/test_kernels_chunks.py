"""Decoding CHIME chunks only where prepare needs them: the kernels against their numpy twins,
``ChunkReader.read_ragged`` against ``read``, and prepare's chunk windows against the
whole-window path (``raw``) they replace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from frbtriage.kernels.chunks import decode_ragged, fill_nan
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import decode_ragged_ref, ragged_fill_ref

from frbtriage import prepare as P
from frbtriage.io.chime_msgpack import AssembledChunk, chunk_filename, write_chunk
from frbtriage.io.chime_reader import ChunkReader

NT = 1024
SPAN = NT * 384


@st.composite
def chunk(draw):
    """A small chunk (any coarse/fine split, packets, RFI mask rows), bytes incl. 0 and 255."""
    nfc = draw(st.integers(1, 6))
    nup = draw(st.integers(1, 3))
    ntp = draw(st.integers(1, 4))
    ntc = draw(st.integers(1, 6))
    nfreq, nt = nfc * nup, ntp * ntc
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (nfreq, nt)).astype(np.uint8)
    data[rng.random((nfreq, nt)) < 0.1] = rng.choice([0, 255])
    scales = rng.uniform(0.1, 3, (nfc, ntc)).astype(np.float32)
    offsets = rng.uniform(-50, 50, (nfc, ntc)).astype(np.float32)
    nrfi = draw(st.sampled_from([0] + [d for d in range(1, nfreq + 1) if nfreq % d == 0]))
    rfi = rng.random((nrfi, nt)) > 0.2 if nrfi else None
    return data, scales, offsets, rfi, rng


@settings(max_examples=60, deadline=None)
@given(chunk(), st.integers(-8, 8), st.integers(1, 30))
def test_decode_ragged_matches_reference(case, shift_in, ncol):
    data, scales, offsets, rfi, rng = case
    nfreq, nt = data.shape
    shift = shift_in * nt // 4  # window starting before, inside or after the chunk
    count = rng.integers(0, ncol + 1, nfreq)
    got = np.full((nfreq, ncol), 7.0, np.float32)
    want = got.copy()
    nbad, nbad_ref = np.zeros(nfreq, np.int64), np.zeros(nfreq, np.int64)
    sums, sums_ref = np.full(nfreq, 0.5), np.full(nfreq, 0.5)
    decode_ragged(data, scales, offsets, rfi, shift, count, got, nbad, sums)
    decode_ragged_ref(data, scales, offsets, rfi, shift, count, want, nbad_ref, sums_ref)
    np.testing.assert_array_equal(got, want)  # bit for bit, NaN where masked
    np.testing.assert_array_equal(nbad, nbad_ref)
    np.testing.assert_allclose(sums, sums_ref, rtol=1e-12, atol=1e-9)  # summation order


def test_fill_nan_only_below_count():
    out = np.array([[np.nan, 1, np.nan], [np.nan, np.nan, 2]], np.float32)
    fill_nan(out, np.array([3, 1]), np.array([0, 1]), np.array([5, 6], np.float32))
    np.testing.assert_array_equal(out, np.array([[5, 1, 5], [6, np.nan, 2]], np.float32))


def test_bad_input_is_value_error():
    data = np.zeros((4, 8), np.uint8)
    s = np.ones((2, 2), np.float32)
    out = np.zeros((4, 5), np.float32)
    nbad, sums = np.zeros(4, np.int64), np.zeros(4)
    with pytest.raises(ValueError, match="count"):
        decode_ragged(data, s, s, None, 0, np.full(4, 6), out, nbad, sums)
    with pytest.raises(ValueError, match="scales"):
        decode_ragged(data, np.ones((3, 2), np.float32), s, None, 0, np.ones(4), out, nbad,
                      sums)
    with pytest.raises(ValueError, match="rfi"):
        decode_ragged(data, s, s, np.ones((3, 8), bool), 0, np.ones(4), out, nbad, sums)
    with pytest.raises(ValueError, match="sums"):
        decode_ragged(data, s, s, None, 0, np.ones(4), out, nbad, np.zeros(4, np.float32))


# --------------------------------------------------------------------------- the reader


def masked_stream(folder: Path, *, compress: bool = False) -> Path:
    """Five 1024-channel chunks, the fourth missing (a gap): random bytes with 0/255, an RFI
    mask with whole rows bad in one chunk, channel 5 masked throughout, varying scales."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for k in (0, 1, 2, 4):
        data = rng.integers(1, 255, (1024, NT)).astype(np.uint8)
        data[rng.random((1024, NT)) < 0.01] = 255
        data[5] = 0
        mask = rng.random((256, NT)) > 0.01
        if k == 1:
            mask[40:60] = False
        ch = AssembledChunk(beam_id=2, fpga0=(9 + k) * SPAN, data=data,
                            scales=rng.uniform(0.5, 2, (1024, 64)).astype(np.float32),
                            offsets=rng.uniform(-5, 5, (1024, 64)).astype(np.float32),
                            nupfreq=1, rfi_mask=mask if k != 2 else None)
        write_chunk(folder / chunk_filename(ch), ch, compress=compress)
    return folder


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("start,ncol", [(0, 700), (900, 1500), (1500, 2800), (3000, 1900),
                                        (4000, 1120)])
def test_read_ragged_is_read_where_needed(tmp_path: Path, compress: bool, start: int,
                                          ncol: int) -> None:
    """Good samples are read()'s bit for bit; masked ones hold the mean of the channel's good
    samples among those it reads (the numpy twin of the rule), and with full counts the
    whole-window read() itself."""
    with ChunkReader(masked_stream(tmp_path / "beam", compress=compress), 2) as rd:
        count = np.random.default_rng(start).integers(0, ncol + 1, 1024)
        count[17] = ncol
        count[5] = ncol // 2  # channel 5 is masked throughout: the all-channel level
        out = np.full((1024, ncol + 3), -1.0, np.float32)
        rd.read_ragged(start, count, out)
        window = rd.read(start, start + ncol).data
        good = ~rd.mask(start, start + ncol)
        full = np.full((1024, ncol), -1.0, np.float32)
        rd.read_ragged(start, np.full(1024, ncol), full)
    want = ragged_fill_ref(window, good, count)
    for c in range(1024):
        k = count[c]
        np.testing.assert_array_equal(out[c, :k][good[c, :k]], window[c, :k][good[c, :k]])
        # the fill level is the twin's mean summed in another order: float32 rounding at most
        np.testing.assert_allclose(out[c, :k], want[c, :k], rtol=2e-7, atol=0)
        assert (out[c, k:] == -1).all()
    np.testing.assert_allclose(full, window, rtol=2e-7, atol=0)


def test_read_ragged_outside_is_input_error(tmp_path: Path) -> None:
    from frbtriage.errors import InputError

    with ChunkReader(masked_stream(tmp_path / "beam")) as rd:
        out = np.zeros((1024, 10), np.float32)
        with pytest.raises(InputError, match="outside the chunks"):
            rd.read_ragged(5 * NT - 5, np.full(1024, 10), out)


def test_prepare_window_from_chunks_is_the_whole_window_path(tmp_path: Path) -> None:
    """read_window on chunks (read_ragged) gives what converting raw() gave, padded or not."""
    with ChunkReader(masked_stream(tmp_path / "beam")) as rd:
        for tcand, dm, width in [(2.0, 300.0, 4), (0.05, 500.0, 2), (4.9, 200.0, 8)]:
            geo = P.geometry(rd.header, tcand, dm, width)
            got, padded = P.read_window(rd, geo)
            a, b = max(geo.read_start, 0), min(geo.read_stop, rd.header.nspectra)
            off = a - geo.read_start
            full = rd.raw(a, b - a).T
            good = ~rd.mask(a, b)
            for c in range(0, 1024, 7):
                n = min(int(geo.need[c]) - off, b - a)
                ok = good[c, :n]  # masked samples: read_ragged's level (tested above)
                np.testing.assert_array_equal(got[c, off : off + n][ok], full[c, :n][ok])
                assert np.isfinite(got[c, off : off + n]).all()
            assert padded == (off > 0 or b < geo.read_stop)
