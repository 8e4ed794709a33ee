"""Filterbank/PSRFITS reader: real Parkes file, synthetic files of each nbits, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frbtriage.errors import InputError
from frbtriage.io.filterbank import (
    Block,
    FilterbankReader,
    read_header,
    read_window,
    scan_sigproc_header,
)

DTYPES = {8: np.uint8, 16: np.uint16, 32: np.float32}


def write_fil(
    path: Path,
    data: np.ndarray,
    nbits: int = 8,
    fch1: float = 800.0,
    foff: float = -1.0,
    tsamp: float = 0.001,
    source: str = "SYNTH",
) -> Path:
    """Write ``data`` (nspectra, nchans) as a sigproc file with your's filterbank writer."""
    from your.formats.filwriter import make_sigproc_object

    sp = make_sigproc_object(
        rawdatafile=str(path),
        source_name=source,
        nchans=data.shape[1],
        foff=foff,
        fch1=fch1,
        tsamp=tsamp,
        tstart=60000.5,
        nbits=nbits,
    )
    sp.write_header(str(path))
    sp.append_spectra(np.ascontiguousarray(data, dtype=DTYPES[nbits]), str(path))
    return path


def synth(nspectra: int, nchans: int, nbits: int, seed: int = 0) -> np.ndarray:
    """Random data of the right range for ``nbits``, shape (nspectra, nchans)."""
    rng = np.random.default_rng(seed)
    if nbits == 32:
        return rng.normal(10.0, 3.0, (nspectra, nchans)).astype(np.float32)
    hi = 256 if nbits == 8 else 65536
    return rng.integers(0, hi, (nspectra, nchans)).astype(DTYPES[nbits])


# ---------------------------------------------------------------- real Parkes Crab file


def test_real_header(real_fil: Path) -> None:
    h = read_header(real_fil)
    assert (h.nchans, h.fch1, h.foff, h.nspectra, h.nbits) == (832, 4030.0, -4.0, 4096, 8)
    assert h.tsamp == pytest.approx(0.000512)
    assert h.source_name == "J0534+2200"
    assert h.freqs.shape == (832,)
    assert h.freqs[0] == 4030.0 and h.freqs[-1] == 4030.0 - 4 * 831
    assert h.duration == pytest.approx(4096 * 0.000512)
    assert 50000 < h.tstart < 70000


def test_real_window_matches_your(real_fil: Path) -> None:
    import your

    y = your.Your(str(real_fil))
    ref = y.get_data(nstart=1000, nsamp=300).T.astype(np.float32)
    blk = read_window(real_fil, 1000, 1300)
    assert blk.data.dtype == np.float32 and blk.data.shape == (832, 300)
    assert blk.data.flags.c_contiguous
    assert (blk.start, blk.pad_before, blk.pad_after, blk.padded) == (1000, 0, 0, False)
    np.testing.assert_array_equal(blk.data, ref)


def test_real_edge_padding_both_ends(real_fil: Path) -> None:
    import your

    full = your.Your(str(real_fil)).get_data(nstart=0, nsamp=4096).T.astype(np.float32)
    with FilterbankReader(real_fil) as fb:
        left = fb.read(-100, 156)
        right = fb.read(4000, 4256)
        both = fb.read(-3, 4100)
    assert (left.pad_before, left.pad_after, left.start) == (100, 0, -100)
    np.testing.assert_array_equal(left.data[:, 100:], full[:, :156])
    med = np.median(full[:, :156], axis=1)
    np.testing.assert_array_equal(left.data[:, :100], np.repeat(med[:, None], 100, axis=1))
    assert (right.pad_before, right.pad_after) == (0, 160)
    np.testing.assert_array_equal(right.data[:, :96], full[:, 4000:])
    med = np.median(full[:, 4000:], axis=1)
    np.testing.assert_array_equal(right.data[:, 96:], np.repeat(med[:, None], 160, axis=1))
    assert (both.pad_before, both.pad_after, both.data.shape) == (3, 4, (832, 4103))
    med = np.median(full, axis=1)[:, None]
    assert np.all(both.data[:, :3] == med) and np.all(both.data[:, -4:] == med)
    np.testing.assert_array_equal(both.data[:, 3:-4], full)


def test_real_read_seconds(real_fil: Path) -> None:
    with FilterbankReader(real_fil) as fb:
        blk = fb.read_seconds(0.512, 0.512 + 0.128)  # exactly samples [1000, 1250)
        ref = fb.read(1000, 1250)
    assert blk.start == 1000 and blk.data.shape == (832, 250)
    np.testing.assert_array_equal(blk.data, ref.data)
    blk = read_window(real_fil, -0.001, 0.0101, unit="seconds")  # partial samples included
    assert (blk.start, blk.stop, blk.pad_before) == (-2, 20, 2)


# ---------------------------------------------------------------- synthetic files


@pytest.mark.parametrize("nbits", [8, 16, 32])
def test_synthetic_nbits_roundtrip(tmp_path: Path, nbits: int) -> None:
    data = synth(300, 16, nbits, seed=nbits)
    path = write_fil(tmp_path / f"s{nbits}.fil", data, nbits=nbits, foff=+2.0, fch1=400.0)
    with FilterbankReader(path) as fb:
        h = fb.header
        assert (h.nbits, h.nchans, h.nspectra, h.foff, h.source_name) == (
            nbits, 16, 300, 2.0, "SYNTH",
        )  # fmt: skip
        np.testing.assert_array_equal(h.freqs, 400.0 + 2.0 * np.arange(16))
        blk = fb.read(0, 300)
    np.testing.assert_array_equal(blk.data, data.T.astype(np.float32))


@pytest.mark.parametrize("nbits", [8, 16, 32])
def test_raw_is_a_view_equal_to_your(tmp_path: Path, nbits: int) -> None:
    import your

    data = synth(300, 16, nbits, seed=nbits + 1)
    path = write_fil(tmp_path / f"r{nbits}.fil", data, nbits=nbits)
    ref = your.Your(str(path)).get_data(nstart=40, nsamp=200)
    with FilterbankReader(path) as fb:
        raw = fb.raw(40, 200)
        assert raw.dtype == DTYPES[nbits] and raw.shape == (200, 16)
        np.testing.assert_array_equal(raw, ref)
        assert not raw.flags.writeable  # the file itself, read-only
        assert np.shares_memory(raw, fb.raw(100, 10))  # no copy per window
        with pytest.raises(InputError, match="outside the file"):
            fb.raw(250, 51)


def test_real_raw_matches_your(real_fil: Path) -> None:
    import your

    ref = your.Your(str(real_fil)).get_data(nstart=4000, nsamp=96)
    with FilterbankReader(real_fil) as fb:
        np.testing.assert_array_equal(fb.raw(4000, 96), ref)


def test_padding_uses_window_median_not_file_median(tmp_path: Path) -> None:
    data = np.zeros((100, 4), np.uint8)
    data[:10] = 7  # first 10 samples differ from the rest of the file
    path = write_fil(tmp_path / "m.fil", data)
    blk = read_window(path, -5, 10)
    assert np.all(blk.data == 7.0) and blk.pad_before == 5
    blk = read_window(path, 95, 120)
    assert np.all(blk.data == 0.0) and blk.pad_after == 20


@pytest.fixture(scope="module")
def hyp_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    data = synth(64, 5, 8, seed=3)
    return write_fil(tmp_path_factory.mktemp("hyp") / "h.fil", data), data


@settings(max_examples=60, deadline=None)
@given(start=st.integers(-200, 63), length=st.integers(1, 400))
def test_any_window_bounds(hyp_file: tuple[Path, np.ndarray], start: int, length: int) -> None:
    path, data = hyp_file
    stop = start + length
    if stop <= 0:
        with pytest.raises(InputError, match="wholly outside"):
            read_window(path, start, stop)
        return
    with FilterbankReader(path) as fb:
        blk: Block = fb.read(start, stop)
    a, b = max(start, 0), min(stop, 64)
    assert blk.data.shape == (5, length)
    assert blk.pad_before == a - start and blk.pad_after == stop - b
    assert blk.padded == (blk.pad_before + blk.pad_after > 0)
    inside = blk.data[:, a - start : b - start]
    np.testing.assert_array_equal(inside, data[a:b].T.astype(np.float32))
    med = np.median(data[a:b].T.astype(np.float32), axis=1)[:, None]
    assert np.all(blk.data[:, : blk.pad_before] == med)
    assert np.all(blk.data[:, b - start :] == med)


def test_reader_reuses_one_open_file(tmp_path: Path) -> None:
    data = synth(500, 8, 8)
    path = write_fil(tmp_path / "many.fil", data)
    with FilterbankReader(path) as fb:
        y = fb._your
        for s in range(-50, 500, 7):
            fb.read(s, s + 64)
        assert fb._your is y
    assert fb._your is None
    fb.close()  # idempotent


# ---------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found") as e:
        read_header(tmp_path / "nope.fil")
    assert str(tmp_path / "nope.fil") in str(e.value)


def test_wrong_suffix(tmp_path: Path) -> None:
    p = tmp_path / "x.dat"
    p.write_bytes(b"abc")
    with pytest.raises(InputError, match="unsupported file type"):
        read_header(p)


def test_not_sigproc(tmp_path: Path) -> None:
    p = tmp_path / "x.fil"
    p.write_bytes(b"this is not a filterbank file at all" * 10)
    with pytest.raises(InputError, match="HEADER_START"):
        read_header(p)


def test_header_without_header_end(tmp_path: Path) -> None:
    path = write_fil(tmp_path / "a.fil", synth(20, 4, 8))
    raw = path.read_bytes()
    _keys, hdr_len = scan_sigproc_header(path)
    end = struct.pack("<i", 10) + b"HEADER_END"
    assert raw[hdr_len - len(end) : hdr_len] == end
    bad = tmp_path / "b.fil"
    bad.write_bytes(raw[: hdr_len - len(end)] + raw[hdr_len:])  # remove the HEADER_END string
    with pytest.raises(InputError, match="HEADER_END") as e:
        read_header(bad)
    assert str(bad) in str(e.value)
    cut = tmp_path / "c.fil"
    cut.write_bytes(raw[: hdr_len - len(end)])  # header cut off before HEADER_END, no data
    with pytest.raises(InputError, match="HEADER_END"):
        read_header(cut)


def test_truncated_data(tmp_path: Path) -> None:
    path = write_fil(tmp_path / "t.fil", synth(20, 4, 16), nbits=16)  # 8 bytes per spectrum
    raw = path.read_bytes()
    path.write_bytes(raw[:-3])
    with pytest.raises(InputError, match="5 bytes left over after 19 whole spectra of 8 bytes"):
        read_header(path)
    _keys, hdr_len = scan_sigproc_header(path)
    path.write_bytes(raw[: hdr_len + 5])
    with pytest.raises(InputError, match="less than one spectrum"):
        read_header(path)


@pytest.mark.parametrize("nbits", [1, 2, 4, 12, 64])
def test_unsupported_nbits(tmp_path: Path, nbits: int) -> None:
    path = write_fil(tmp_path / "n.fil", synth(16, 8, 8))
    raw = bytearray(path.read_bytes())
    key = struct.pack("<i", 5) + b"nbits"
    i = raw.index(key) + len(key)
    raw[i : i + 4] = struct.pack("<i", nbits)
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=f"unsupported nbits={nbits}"):
        read_header(path)


def test_unknown_keyword_and_missing_keyword(tmp_path: Path) -> None:
    path = write_fil(tmp_path / "k.fil", synth(16, 8, 8))
    raw = path.read_bytes()
    old = struct.pack("<i", 5) + b"ibeam"
    new = struct.pack("<i", 5) + b"zbeam"
    path.write_bytes(raw.replace(old, new))
    with pytest.raises(InputError, match="unsupported sigproc header keyword 'zbeam'"):
        read_header(path)
    # drop the tsamp keyword and its 8-byte value
    key = struct.pack("<i", 5) + b"tsamp"
    i = raw.index(key)
    path.write_bytes(raw[:i] + raw[i + len(key) + 8 :])
    with pytest.raises(InputError, match="lacks tsamp"):
        read_header(path)


def test_window_errors(tmp_path: Path) -> None:
    path = write_fil(tmp_path / "w.fil", synth(50, 4, 8))
    with FilterbankReader(path) as fb:
        for s, e in [(50, 60), (-10, 0), (1000, 2000)]:
            with pytest.raises(InputError, match="wholly outside"):
                fb.read(s, e)
        with pytest.raises(InputError, match="empty window"):
            fb.read(10, 10)
        with pytest.raises(InputError, match="not finite"):
            fb.read_seconds(0.0, float("nan"))
    with pytest.raises(ValueError, match="unit"):
        read_window(path, 0, 1, unit="minutes")  # type: ignore[arg-type]


# ---------------------------------------------------------------- PSRFITS


def test_psrfits_through_your_writer(tmp_path: Path) -> None:
    import your
    from your.writer import Writer

    data = synth(512, 16, 8, seed=5)
    fil = write_fil(tmp_path / "src.fil", data, fch1=1500.0, foff=-1.0)
    w = Writer(your.Your(str(fil)), outdir=str(tmp_path) + "/", outname="conv", progress=False)
    w.to_fits()
    fits = tmp_path / "conv.fits"
    with FilterbankReader(fits) as fb:
        h = fb.header
        assert h.nchans == 16 and h.nbits == 8 and h.nspectra >= 512
        ref = your.Your(str(fits)).get_data(nstart=0, nsamp=100).T.astype(np.float32)
        blk = fb.read(-20, 100)
    assert blk.pad_before == 20
    np.testing.assert_array_equal(blk.data[:, 20:], ref)
    np.testing.assert_allclose(h.freqs, your.Your(str(fits)).chan_freqs)
