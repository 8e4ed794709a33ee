"""FETCH candidate .h5: our writer/reader round trip, and files your's Candidate.save_h5 writes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate
from frbtriage.io.fetch_h5 import cand_id, image_axes, read_fetch_h5, write_fetch_h5
from frbtriage.io.filterbank import Header, read_header
from frbtriage.physics import delay_samples


def _write_fil(path: Path, foff: float, nchans: int = 32, nspectra: int = 1024) -> Path:
    """A noise filterbank with a dispersed pulse (DM 30 at sample 400), via your's writer."""
    from your.formats.filwriter import make_sigproc_object

    fch1 = 1500.0 if foff < 0 else 1500.0 - (nchans - 1) * abs(foff)
    rng = np.random.default_rng(1)
    data = rng.normal(100, 5, (nspectra, nchans))
    freqs = fch1 + foff * np.arange(nchans)
    delays = delay_samples(30.0, freqs, 0.001)
    data[400 + delays, np.arange(nchans)] += 60
    sp = make_sigproc_object(
        rawdatafile=str(path), source_name="SYN", nchans=nchans, foff=foff, fch1=fch1,
        tsamp=0.001, tstart=60000.25, nbits=8,
    )  # fmt: skip
    sp.write_header(str(path))
    sp.append_spectra(np.clip(data, 0, 255).astype(np.uint8), str(path))
    return path


def _header(foff: float) -> Header:
    return Header("/data/obs.fil", 800.0 if foff < 0 else 400.0, foff, 1024, 0.00098304,
                  60000, 59000.5, 8, "SIM")  # fmt: skip


@pytest.mark.parametrize("foff", [-0.390625, 0.390625])
def test_round_trip_and_fetch_layout(tmp_path: Path, foff: float) -> None:
    rng = np.random.default_rng(0)
    ft = rng.normal(size=(256, 256)).astype(np.float32)
    ft[0] += 100.0  # mark the highest-frequency row
    dmt = rng.normal(size=(256, 256)).astype(np.float32)
    cand = Candidate("/data/obs.fil", 12.5, 345.6, 8, 11.0, 1)
    out = write_fetch_h5(tmp_path / "c.h5", cand, ft, dmt, _header(foff), {"model": "v1"})
    assert out == tmp_path / "c.h5" and [p.name for p in tmp_path.iterdir()] == ["c.h5"]

    with h5py.File(out, "r") as f:  # what FETCH and your's tools see
        raw = f["data_freq_time"][()]
        assert raw.shape == (256, 256) and raw.dtype == np.float32
        assert f["data_freq_time"].dims[0].label == "time"
        assert f["data_dm_time"].dims[0].label == "dm"
        hi_col = 0 if foff < 0 else 255  # file channel order: column 0 = fch1
        np.testing.assert_array_equal(raw[:, hi_col], ft[0])
        np.testing.assert_array_equal(f["data_dm_time"][()], dmt)
        a = f.attrs
        assert (a["tcand"], a["dm"], a["snr"], a["width"], a["label"]) == (12.5, 345.6, 11.0, 8, 1)
        assert a["tsamp"] == 0.00098304 and a["nchans"] == 1024 and a["foff"] == foff
        assert a["cand_id"] == cand_id(cand, 59000.5) and a["model"] == "v1"
        assert list(a["filelist"]) == ["/data/obs.fil"]

    c2, ft2, dmt2, attrs = read_fetch_h5(out)
    np.testing.assert_array_equal(ft2, ft)
    np.testing.assert_array_equal(dmt2, dmt)
    assert (c2.file, c2.tcand, c2.dm, c2.width, c2.snr, c2.label) == (
        "/data/obs.fil", 12.5, 345.6, 8, 11.0, 1,
    )  # fmt: skip
    assert c2.origin == f"fetch_h5:{out.resolve()}"
    assert attrs["source_name"] == "SIM" and attrs["filelist"] == ["/data/obs.fil"]
    assert isinstance(attrs["dm"], float) and isinstance(attrs["cand_id"], str)
    f_hi, f_lo, pixel_s = image_axes(attrs, c2.width)  # the band edges, decimated step
    assert pixel_s == pytest.approx(0.00098304 * 4)
    assert f_hi - f_lo == pytest.approx(1024 * abs(foff)) and f_lo > 0
    assert image_axes({"fch1": 800.0}, 8) == (None, None, None)


def test_round_trip_without_header_and_unknown_label(tmp_path: Path) -> None:
    ft = np.arange(64 * 32, dtype=np.float32).reshape(64, 32)
    cand = Candidate("x.fil", 1.0, 0.0, 1, 6.5, None)
    write_fetch_h5(tmp_path / "n.h5", cand, ft, ft[:16], None)
    c2, ft2, dmt2, attrs = read_fetch_h5(tmp_path / "n.h5")
    assert c2.label is None and attrs["label"] == -1 and "foff" not in attrs
    np.testing.assert_array_equal(ft2, ft)
    assert dmt2 is not None and dmt2.shape == (16, 32)


def test_write_refuses_and_leaves_old_file(tmp_path: Path) -> None:
    cand = Candidate("x.fil", 1.0, 10.0, 2, 6.5, 0)
    ft = np.zeros((8, 8), np.float32)
    write_fetch_h5(tmp_path / "a.h5", cand, ft, ft, None)
    before = (tmp_path / "a.h5").read_bytes()
    with pytest.raises(ValueError, match="replace a FETCH attribute"):
        write_fetch_h5(tmp_path / "a.h5", cand, ft + 1, ft, None, {"dm": 3.0})
    with pytest.raises(ValueError, match="2-D"):
        write_fetch_h5(tmp_path / "a.h5", cand, ft[None], ft, None)
    assert (tmp_path / "a.h5").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]


def test_read_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_fetch_h5(tmp_path / "none.h5")
    (tmp_path / "t.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="not an HDF5 file"):
        read_fetch_h5(tmp_path / "t.h5")
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f["other"] = np.zeros(3)
    with pytest.raises(InputError, match="no 'data_freq_time'"):
        read_fetch_h5(tmp_path / "e.h5")
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["data_freq_time"] = np.zeros((4, 4), np.float32)
        f.attrs["dm"] = 5.0
    with pytest.raises(InputError, match="missing attribute.*tcand, snr, width"):
        read_fetch_h5(tmp_path / "m.h5")
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["data_freq_time"] = np.zeros((4, 4), np.float32)
        f.attrs.update({"tcand": 1.0, "dm": -5.0, "snr": 1.0, "width": 2})
    with pytest.raises(InputError, match="negative DM") as e:
        read_fetch_h5(tmp_path / "d.h5")
    assert str(e.value).startswith(str(tmp_path / "d.h5"))


@pytest.mark.parametrize("foff", [-1.0, 1.0])
def test_reads_file_written_by_your_save_h5(tmp_path: Path, foff: float) -> None:
    from your.candidate import Candidate as YourCandidate

    fil = _write_fil(tmp_path / "obs.fil", foff)
    yc = YourCandidate(fp=str(fil), dm=30.0, tcand=0.4, width=2, label=1, snr=12.0, min_samp=256)
    yc.get_chunk()
    yc.dedisperse()
    yc.dmtime(dmsteps=64)
    fname = yc.save_h5(out_dir=str(tmp_path), fnout="your.h5")

    cand, ft, dmt, attrs = read_fetch_h5(fname)
    assert (cand.file, cand.tcand, cand.dm, cand.width, cand.snr, cand.label) == (
        str(fil), 0.4, 30.0, 2, 12.0, 1,
    )  # fmt: skip
    assert cand.file == attrs["filename"] and attrs["nchans"] == 32 and attrs["foff"] == foff
    expect = yc.dedispersed.T if foff < 0 else yc.dedispersed.T[::-1]
    np.testing.assert_array_equal(ft, expect)
    assert ft.shape[0] == 32
    np.testing.assert_array_equal(dmt, yc.dmt)
    # our convention: row 0 is the highest frequency, whatever the file order
    hdr = read_header(fil)
    order = np.argsort(hdr.freqs)[::-1]
    np.testing.assert_array_equal(ft, yc.dedispersed.T[order])


@pytest.mark.slow
def test_your_plotter_reads_our_file(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from your.utils.plotter import plot_h5

    rng = np.random.default_rng(2)
    cand = Candidate("/data/obs.fil", 1.0, 100.0, 4, 9.0, None)
    path = write_fetch_h5(tmp_path / "p.h5", cand, rng.normal(size=(64, 64)),
                          rng.normal(size=(64, 64)), _header(-0.390625))  # fmt: skip
    plot_h5(str(path), save=True, outdir=str(tmp_path) + "/")
    assert (tmp_path / "p.png").stat().st_size > 1000
