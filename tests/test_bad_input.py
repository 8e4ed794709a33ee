"""Bad input, all of it: the matrix of damaged files, lists and stores, through the verbs.

Each case is one row of :data:`CASES` (its id, what is wrong, what must happen), so that the
README's "Reliability" table is generated from this file (``python tests/test_bad_input.py``
prints it; :func:`test_readme_table_is_current` keeps the two in step). Outcomes:

* ``refused``: the whole input is bad: exit 2 and one line
  ``frbtriage: error: <file>: <what is wrong>``, nothing stored;
* ``served``: only some rows are bad: exit 0, the good rows stored, each bad row reported
  on stderr with its line number (or skipped with its reason by prepare); for the nightly
  job, one bad file of an inbox: the others processed, the bad one named on stderr and in
  the report, exit 3;
* ``kept``: a store that fails mid-way: exit 2 and one line, and what was stored before
  stays intact and readable.

New verbs join by adding their cases to :data:`CASES` and a runner below.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frbtriage import cli
from frbtriage.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
NCHANS, NSPECTRA, TSAMP = 64, 4096, 0.001
GOOD_ROW = "{fil},10.0,1.0,1,50.0"


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: ``id`` (the test id), ``what`` is wrong, ``outcome``
    (refused / served / kept) and ``expect``, a text the error or report must contain."""

    id: str
    what: str
    outcome: str
    expect: str


# ---------------------------------------------------------------- a sigproc file, any header


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<i", len(raw)) + raw


def sigproc(path: Path, data: np.ndarray | None = None, **over: float) -> Path:
    """Write a sigproc file (header values ``over`` replace the defaults, any value goes);
    ``data`` ``(nspectra, nchans)`` in the dtype of ``nbits`` (default: 8-bit noise)."""
    ints = {"nchans": NCHANS, "nbits": 8, "nifs": 1}
    dbls = {"tsamp": TSAMP, "fch1": 800.0, "foff": -1.0, "tstart": 60000.0, "src_raj": 53432.0,
            "src_dej": 220052.0}
    for k, v in over.items():
        (ints if k in ints else dbls)[k] = v
    head = _s("HEADER_START")
    head += b"".join(_s(k) + struct.pack("<i", int(v)) for k, v in ints.items())
    head += b"".join(_s(k) + struct.pack("<d", v) for k, v in dbls.items())
    head += _s("HEADER_END")
    if data is None:
        data = np.random.default_rng(1).integers(100, 156, (NSPECTRA, NCHANS), dtype=np.uint8)
    path.write_bytes(head + np.ascontiguousarray(data).tobytes())
    return path


# ---------------------------------------------------------------- files: whole input bad


def _truncate(n: int):
    def cut(path: Path) -> None:
        raw = sigproc(path).read_bytes()
        path.write_bytes(raw[:n])
    return cut


def _header(**over: float):
    def make(path: Path) -> None:
        sigproc(path, **over)
    return make


FILE_CASES: list[tuple[Case, object]] = [
    (Case("empty", "empty .fil file", "refused", "too short"), _truncate(0)),
    (Case("mid-header", "truncated in the header", "refused", "HEADER_END"), _truncate(40)),
    (Case("mid-data", "truncated in the data", "refused", "truncated filterbank"),
     _truncate(-100)),
    (Case("nchans-0", "nchans 0", "refused", "nchans=0"), _header(nchans=0)),
    (Case("nchans-1e9", "nchans 10^9", "refused", "nchans=1000000000"), _header(nchans=10**9)),
    (Case("tsamp-0", "tsamp 0", "refused", "tsamp=0.0"), _header(tsamp=0.0)),
    (Case("tsamp-neg", "tsamp < 0", "refused", "tsamp=-0.001"), _header(tsamp=-0.001)),
    (Case("tsamp-nan", "tsamp not a number (NaN)", "refused", "tsamp=nan"),
     _header(tsamp=math.nan)),
    (Case("foff-0", "foff 0", "refused", "foff=0.0"), _header(foff=0.0)),
    (Case("fch1-nan", "fch1 NaN", "refused", "fch1=nan"), _header(fch1=math.nan)),
    (Case("tstart-inf", "tstart infinite", "refused", "tstart=inf"), _header(tstart=math.inf)),
    (Case("band-below-0", "band reaching below 0 MHz", "refused", "invalid band"),
     _header(fch1=30.0)),
    (Case("nbits-4", "unsupported nbits (4)", "refused", "nbits=4"), _header(nbits=4)),
    (Case("nbits-7", "unsupported nbits (7)", "refused", "nbits=7"), _header(nbits=7)),
]


def _csv(tmp_path: Path, rows: list[str], name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_text("file,snr,stime,width,dm\n" + "".join(r + "\n" for r in rows))
    return path


def _one_line(err: str, path: object) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"frbtriage: error: {path}: "), lines[0]
    return lines[0]


@pytest.mark.parametrize(("case", "make"), FILE_CASES, ids=[c.id for c, _ in FILE_CASES])
def test_bad_file(case: Case, make, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fil = tmp_path / "bad.fil"
    make(fil)
    ws = tmp_path / "ws"
    capsys.readouterr()
    assert cli.main(["prepare", "-w", str(ws), "-c", str(_csv(tmp_path, [GOOD_ROW.format(
        fil=fil)])), "--no-progress"]) == 2
    assert case.expect in _one_line(capsys.readouterr().err, fil)
    assert not ws.exists()


# ---------------------------------------------------------------- files: odd but servable data


def _float_data(kind: str) -> np.ndarray:
    data = np.random.default_rng(2).normal(10.0, 1.0, (NSPECTRA, NCHANS)).astype(np.float32)
    if kind == "nan-inf":
        data[:, 3] = np.nan  # a masked channel, as CHIME marks them
        data[900:1100, 7] = np.inf
        data[1000, :] = -np.inf  # a dropped spectrum
    elif kind == "zeros":
        data[:] = 0.0
    elif kind == "constant":
        data[:] = 7.5
    return data


DATA_CASES = [
    Case("nan-inf", "float32 data with NaN channels and inf samples", "served",
         "NaN/inf get zero weight"),
    Case("zeros", "all-zero data", "served", "images all zero"),
    Case("constant", "constant data", "served", "images all zero"),
]


@pytest.mark.parametrize("case", DATA_CASES, ids=[c.id for c in DATA_CASES])
def test_odd_data_is_served(case: Case, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    from frbtriage.workspace import Workspace

    fil = sigproc(tmp_path / "odd.fil", _float_data(case.id), nbits=32)
    ws = tmp_path / "ws"
    assert cli.main(["prepare", "-w", str(ws), "-c", str(_csv(tmp_path, [GOOD_ROW.format(
        fil=fil)])), "--no-progress"]) == 0
    with Workspace.open(ws) as w:
        (rec,) = w.candidates()
        ft, dmt = w.candidate_images(rec.id)
    assert np.isfinite(ft).all() and np.isfinite(dmt).all()
    if case.id != "nan-inf":
        assert not ft.any() and not dmt.any()


CHANGE_CASES = [
    Case("grows", "data file grows while open", "served", "read as it was when opened"),
    Case("shrinks", "data file shrinks while open", "refused", "shrank while being read"),
]


@pytest.mark.parametrize("case", CHANGE_CASES, ids=[c.id for c in CHANGE_CASES])
def test_file_changing_while_read(case: Case, tmp_path: Path) -> None:
    """Reader level (a verb's run is too quick to change a file under it): a file cut short
    under the memory map would kill the process with SIGBUS; it raises instead."""
    from frbtriage.io.filterbank import FilterbankReader

    fil = sigproc(tmp_path / "live.fil")
    with FilterbankReader(fil) as fb:
        before = fb.read(NSPECTRA - 100, NSPECTRA).data.copy()
        if case.id == "grows":
            with open(fil, "ab") as fh:
                fh.write(bytes(NCHANS * 100))
            np.testing.assert_array_equal(fb.read(NSPECTRA - 100, NSPECTRA).data, before)
            assert fb.header.nspectra == NSPECTRA
        else:
            os.truncate(fil, os.path.getsize(fil) - NCHANS * 200)
            with pytest.raises(InputError, match=case.expect):
                fb.read(NSPECTRA - 100, NSPECTRA)


def _fits(tmp_path: Path) -> Path:
    import your
    from your.writer import Writer

    fil = sigproc(tmp_path / "src.fil")
    w = Writer(your.Your(str(fil)), outdir=str(tmp_path) + "/", outname="conv", progress=False)
    w.to_fits()
    return tmp_path / "conv.fits"


FITS_CASES = [
    Case("fits-empty", "empty PSRFITS file", "refused", "cannot read as PSRFITS"),
    Case("fits-truncated", "PSRFITS truncated in the data", "refused", "PSRFITS"),
    Case("fits-garbage", "PSRFITS header overwritten with garbage", "refused", "PSRFITS"),
]


@pytest.mark.parametrize("case", FITS_CASES, ids=[c.id for c in FITS_CASES])
def test_bad_psrfits(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fits = _fits(tmp_path)
    raw = fits.read_bytes()
    bad = tmp_path / "bad.fits"
    if case.id == "fits-empty":
        bad.write_bytes(b"")
    elif case.id == "fits-truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    else:
        bad.write_bytes(b"\x07" * 2880 + raw[2880:])
    ws = tmp_path / "ws"
    capsys.readouterr()
    assert cli.main(["prepare", "-w", str(ws), "-c", str(_csv(tmp_path, [GOOD_ROW.format(
        fil=bad)])), "--no-progress"]) == 2
    assert case.expect in _one_line(capsys.readouterr().err, bad)
    assert not ws.exists()


def test_real_parkes_file_truncated(real_fil: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The real Parkes file cut in its data: one line (skips without ../shared/data/real)."""
    bad = tmp_path / "parkes.fil"
    bad.write_bytes(real_fil.read_bytes()[:-1000])
    assert cli.main(["prepare", "-w", str(tmp_path / "ws"), "-c", str(_csv(
        tmp_path, [f"{bad},7,0.9,2,56.77"])), "--no-progress"]) == 2
    assert "truncated" in _one_line(capsys.readouterr().err, bad)


# ---------------------------------------------------------------- candidate lists


ROW_CASES: list[tuple[Case, str]] = [
    (Case("dm-neg", "DM < 0", "served", "negative DM"), "{fil},10,1.0,1,-5"),
    (Case("dm-nan", "DM NaN", "served", "not a finite"), "{fil},10,1.0,1,nan"),
    (Case("dm-huge", "DM 2^40", "served", "absurd (limit 100000)"), "{fil},10,1.0,1,1099511627776"),
    (Case("width-40", "width 40 (log2: 2^40 samples)", "served", "absurd (limit 2**16)"),
     "{fil},10,1.0,40,50"),
    (Case("width-neg", "width < 0", "served", "must be >= 0"), "{fil},10,1.0,-1,50"),
    (Case("width-inf", "width inf", "served", "not a finite"), "{fil},10,1.0,inf,50"),
    (Case("snr-inf", "S/N inf", "served", "not a finite"), "{fil},inf,1.0,1,50"),
    (Case("snr-huge", "S/N 2^40", "served", "absurd (limit 1e+07)"), "{fil},1099511627776,1,1,50"),
    (Case("time-neg", "time < 0", "served", "negative candidate time"), "{fil},10,-1,1,50"),
    (Case("time-nan", "time NaN", "served", "not a finite"), "{fil},10,nan,1,50"),
    (Case("time-huge", "time 2^40 s", "served", "absurd (limit 1e+07 s)"),
     "{fil},10,1099511627776,1,50"),
    (Case("long-field", "a 200 kB field (over csv's limit)", "served", "unreadable row"),
     "{fil},10,1.0,1," + "5" * 200_000),
    (Case("long-path", "a 5000-character file name", "served", "not a file name"),
     "/" + "x" * 5000 + ".fil,10,1.0,1,50"),
    (Case("few-fields", "a row with too few fields", "served", "4 fields"), "{fil},10,1.0,1"),
    (Case("missing-file", "file column names a missing file", "served", "file not found"),
     "{dir}/none.fil,10,1.0,1,50"),
    (Case("dir-file", "file column names a folder (without CHIME chunks)", "served",
          "holds no CHIME chunk files"),
     "{dir},10,1.0,1,50"),
    (Case("duplicate", "the same candidate twice", "served", "1 already stored"),
     "{fil},10.0,1.0,1,50.0"),
]


@pytest.mark.parametrize(("case", "row"), ROW_CASES, ids=[c.id for c, _ in ROW_CASES])
def test_bad_row_among_good(case: Case, row: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str],
                            caplog: pytest.LogCaptureFixture) -> None:
    """A good row, a bad one (line 3), a good one: both good rows stored, the bad one named
    with its line on stderr (list rows), or skipped with its reason in prepare's warning log
    and summary (data files), exit 0."""
    from frbtriage.workspace import Workspace

    fil = sigproc(tmp_path / "ok.fil")
    rows = [GOOD_ROW.format(fil=fil), row.format(fil=fil, dir=tmp_path),
            f"{fil},9.0,2.0,2,80.0"]
    ws = tmp_path / "ws"
    capsys.readouterr()
    assert cli.main(["prepare", "-w", str(ws), "-c", str(_csv(tmp_path, rows)),
                     "--no-progress"]) == 0
    out = capsys.readouterr()
    assert case.expect in out.err + out.out + caplog.text
    if case.id not in ("missing-file", "dir-file", "duplicate"):
        assert "line 3" in out.err
    with Workspace.open(ws) as w:
        assert len(w) == 2


LIST_CASES = [
    Case("all-rows-bad", "every row bad", "refused", "none of its 2 candidate rows"),
    Case("non-utf8", "non-UTF-8 bytes", "refused", "not UTF-8"),
    Case("no-columns", "no candidate columns", "refused", "lacks column"),
]


@pytest.mark.parametrize("case", LIST_CASES, ids=[c.id for c in LIST_CASES])
def test_bad_list(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fil = sigproc(tmp_path / "ok.fil")
    lst = tmp_path / "c.csv"
    if case.id == "all-rows-bad":
        _csv(tmp_path, [f"{fil},10,1.0,40,50", f"{fil},10,-1,1,50"])
    elif case.id == "non-utf8":
        lst.write_bytes(b"file,snr,stime,width,dm\n\xff\xfe.fil,1,1,1,1\n")
    else:
        lst.write_text("a,b\n1,2\n")
    assert cli.main(["prepare", "-w", str(tmp_path / "ws"), "-c", str(lst),
                     "--no-progress"]) == 2
    assert case.expect in _one_line(capsys.readouterr().err, lst)
    assert not (tmp_path / "ws").exists()


L1_HEADER = "beam,timestamp_fpga,timestamp_utc,dm,snr,tree_index,rfi_grade_level1,chunks"
L1_GOOD = "17,{fpga},,50.0,12.0,1,9,{chunks}"
L1_ROW_CASES: list[tuple[Case, str]] = [
    (Case("l1-other-beam", "L1 event of another beam than its chunk folder", "served",
          "holds beam 17"), "18,{fpga},,50.0,12.0,1,9,{chunks}"),
    (Case("l1-before-chunks", "L1 FPGA count before the first chunk", "served",
          "negative candidate time"), "17,0,,50.0,12.0,1,9,{chunks}"),
    (Case("l1-tree-40", "L1 tree index 40", "served", "outside 0..16"),
     "17,{fpga},,50.0,12.0,40,9,{chunks}"),
    (Case("l1-grade-11", "L1 RFI grade 11", "served", "outside L1's 0..10"),
     "17,{fpga},,50.0,12.0,1,11,{chunks}"),
    (Case("l1-no-time", "L1 row with neither FPGA count nor UTC time", "served",
          "neither timestamp_fpga nor timestamp_utc"), "17,,,50.0,12.0,1,9,{chunks}"),
    (Case("l1-fpga-text", "L1 FPGA count not a number", "served", "is not a number"),
     "17,soon,,50.0,12.0,1,9,{chunks}"),
    (Case("l1-no-chunks", "L1 row naming a missing chunk folder", "served", "file not found"),
     "17,{fpga},,50.0,12.0,1,9,{chunks}/../none"),
]


def _l1_list(tmp_path: Path, rows: list[str]) -> Path:
    """A chunk folder of beam 17 (3 s of noise) and an L1 event list of ``rows`` about it
    (``{fpga}``: the FPGA count 1 s in, ``{chunks}``: the folder)."""
    from test_io_chime import SPAN, noise, stream

    chunks = stream(noise(3), tmp_path / "beam0017", fpga_first=10 * SPAN)
    fill = {"fpga": 10 * SPAN + 1017 * 384, "chunks": chunks}
    lst = tmp_path / "events.csv"
    lst.write_text(L1_HEADER + "\n" + "".join(r.format(**fill) + "\n" for r in rows))
    return lst


@pytest.mark.parametrize(("case", "row"), L1_ROW_CASES, ids=[c.id for c, _ in L1_ROW_CASES])
def test_bad_l1_row_among_good(case: Case, row: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """As :func:`test_bad_row_among_good`, for a CHIME L1 event list of a chunk folder."""
    from frbtriage.workspace import Workspace

    lst = _l1_list(tmp_path, [L1_GOOD, row, L1_GOOD.replace(",1,9,", ",2,9,")])
    ws = tmp_path / "ws"
    assert cli.main(["prepare", "-w", str(ws), "-c", str(lst), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert case.expect in err and "line 3" in err
    with Workspace.open(ws) as w:
        assert len(w) == 2


L1_LIST_CASES = [Case("l1-no-data", "L1 event list without chunks column or --data-file",
                      "refused", "needs the chunk folder")]


@pytest.mark.parametrize("case", L1_LIST_CASES, ids=[c.id for c in L1_LIST_CASES])
def test_bad_l1_list(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lst = tmp_path / "events.csv"
    lst.write_text("beam,timestamp_fpga,dm,snr,tree_index\n17,384,50,12,1\n")
    assert cli.main(["prepare", "-w", str(tmp_path / "ws"), "-c", str(lst),
                     "--no-progress"]) == 2
    assert case.expect in _one_line(capsys.readouterr().err, lst)
    assert not (tmp_path / "ws").exists()


RANK_CASES = [Case("rank-width-40", "rank: width 40 among good rows", "served",
                   "absurd (limit 2**16)")]


@pytest.mark.parametrize("case", RANK_CASES, ids=[c.id for c in RANK_CASES])
def test_rank_serves_the_good_rows(case: Case, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The escape of issue 16: rank tried to allocate 128 PiB for width 40 and died."""
    fil = sigproc(tmp_path / "ok.fil")
    lst = _csv(tmp_path, [GOOD_ROW.format(fil=fil), f"{fil},10,1.0,40,50"])
    out = tmp_path / "ranked.csv"
    assert cli.main(["rank", str(lst), "-o", str(out), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert case.expect in err and "line 3" in err
    assert len(out.read_text().splitlines()) == 2  # header + the good row


# ---------------------------------------------------------------- the store


def _prepared(tmp_path: Path, n: int = 2) -> tuple[Path, Path]:
    """A workspace with ``n`` candidates of one file, and that file."""
    fil = sigproc(tmp_path / "ok.fil")
    rows = [f"{fil},10,{1.0 + i},1,50" for i in range(n)]
    ws = tmp_path / "ws"
    assert cli.main(["prepare", "-w", str(ws), "-c", str(_csv(tmp_path, rows, "first.csv")),
                     "--no-progress"]) == 0
    return ws, fil


def _intact(ws: Path, n: int) -> None:
    from frbtriage.workspace import Workspace

    with Workspace.open(ws) as w:
        assert len(w) == n
        for rec in w.candidates():
            ft, dmt = w.candidate_images(rec.id)
            assert np.isfinite(ft).all() and ft.any()


STORE_CASES = [
    Case("corrupt-chunk", "a corrupt zarr chunk", "kept", "damaged image chunk of candidate"),
    Case("db-locked", "database locked by another process", "kept", "database is locked"),
    Case("disk-full", "disk fills during prepare (write raises ENOSPC)", "kept",
         "No space left on device"),
    Case("model-weights", "model weights tampered with", "refused", "SHA-256"),
    Case("model-config", "model config not JSON", "refused", "config"),
]


def test_corrupt_chunk(tmp_path: Path) -> None:
    from frbtriage.workspace import Workspace

    ws, _ = _prepared(tmp_path)
    with Workspace.open(ws) as w:
        bad, good = w.candidates()
    (ws / "arrays.zarr" / "ft" / "c" / str(bad.row) / "0" / "0").write_bytes(b"garbage" * 9)
    with Workspace.open(ws) as w:
        with pytest.raises(InputError, match=STORE_CASES[0].expect) as e:
            w.candidate_images(bad.id)
        assert str(e.value).count("\n") == 0 and f"ft/c/{bad.row}/0/0" in str(e.value)
        with pytest.raises(InputError, match=f"candidate {bad.id} "):
            w.images([good.row, bad.row])
        ft, _ = w.candidate_images(good.id)
        assert np.isfinite(ft).all()


_LOCKER = textwrap.dedent("""
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.readline()
""")


def test_database_locked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    ws, fil = _prepared(tmp_path)
    monkeypatch.setenv("FRBTRIAGE_DB_TIMEOUT", "0.5")
    locker = subprocess.Popen([sys.executable, "-c", _LOCKER, str(ws / "triage.db")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        capsys.readouterr()
        rc = cli.main(["prepare", "-w", str(ws), "-c", str(_csv(
            tmp_path, [f"{fil},10,3.0,1,50"])), "--no-progress"])
    finally:
        locker.communicate("\n", timeout=30)
    assert rc == 2
    assert STORE_CASES[1].expect in _one_line(capsys.readouterr().err, ws / "triage.db")
    _intact(ws, 2)


def test_database_timeout_variable_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from frbtriage import db

    monkeypatch.setenv("FRBTRIAGE_DB_TIMEOUT", "soon")
    with pytest.raises(InputError, match="FRBTRIAGE_DB_TIMEOUT: 'soon'"):
        db.busy_timeout_s()


def test_disk_full_during_prepare(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk simulated by zarr's chunk writer raising ENOSPC (portable; the same was
    checked by hand on a 1 MiB tmpfs): one line, the earlier batch intact, and the next run
    (space freed) completes."""
    import zarr.storage._local as local

    ws, fil = _prepared(tmp_path)
    real_put = local._put

    def full(path: Path, value: object, exclusive: bool = False) -> int:
        if "/c/" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_put(path, value, exclusive)

    monkeypatch.setattr(local, "_put", full)
    more = _csv(tmp_path, [f"{fil},10,3.0,1,50"])
    capsys.readouterr()
    assert cli.main(["prepare", "-w", str(ws), "-c", str(more), "--no-progress"]) == 2
    assert STORE_CASES[2].expect in _one_line(capsys.readouterr().err, ws / "arrays.zarr")
    _intact(ws, 2)
    monkeypatch.setattr(local, "_put", real_put)
    assert cli.main(["prepare", "-w", str(ws), "-c", str(more), "--no-progress"]) == 0
    _intact(ws, 3)


DISK_CASES = [Case("disk-full-tmpfs", "disk fills during prepare (a real 3 MiB tmpfs)", "kept",
                   "No space left on device")]


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs (needs root and mount; skips with the reason otherwise): a real disk
    that fills."""
    where = tmp_path / "small"
    where.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip() or made.returncode}); "
                    "test_disk_full_during_prepare covers the same by a simulated ENOSPC")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_on_a_real_small_disk(small_disk: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A workspace on a 3 MiB tmpfs: a list too big for it stops with one line, what was
    stored before stays readable, and once the disk has room the same command completes."""
    fil = sigproc(tmp_path / "ok.fil")
    ws = small_disk / "ws"
    first = _csv(tmp_path, [f"{fil},10,{1.0 + i},1,50" for i in range(2)], "first.csv")
    assert cli.main(["prepare", "-w", str(ws), "-c", str(first), "--no-progress"]) == 0
    more = _csv(tmp_path, [f"{fil},10,{0.5 + i * 0.2},1,50" for i in range(16)], "more.csv")
    capsys.readouterr()
    assert cli.main(["prepare", "-w", str(ws), "-c", str(more), "--no-progress"]) == 2
    assert DISK_CASES[0].expect in _one_line(capsys.readouterr().err, ws / "arrays.zarr")
    from frbtriage.workspace import Workspace

    with Workspace.open(ws) as w:
        stored = len(w)
    assert stored >= 2
    _intact(ws, stored)
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    assert cli.main(["prepare", "-w", str(ws), "-c", str(more), "--no-progress"]) == 0
    _intact(ws, 18)


@pytest.mark.parametrize("case", STORE_CASES[3:], ids=[c.id for c in STORE_CASES[3:]])
def test_tampered_model(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model"
    shutil.copytree(ROOT / "frbtriage" / "model" / "default", model)
    if case.id == "model-weights":
        target = model / "weights.safetensors"
        raw = bytearray(target.read_bytes())
        raw[-10] ^= 0xFF
        target.write_bytes(bytes(raw))
    else:
        target = model / "config.json"
        target.write_text("{not json")
    fil = sigproc(tmp_path / "ok.fil")
    out = tmp_path / "ranked.csv"
    assert cli.main(["rank", str(_csv(tmp_path, [GOOD_ROW.format(fil=fil)])), "-o", str(out),
                     "--model", str(model), "--device", "cpu"]) == 2
    assert case.expect in _one_line(capsys.readouterr().err, target)
    assert not out.exists()


# ---------------------------------------------------------------- fuzzing the parsers


_GOOD_HEADER = _s("HEADER_START")  # a valid start, then anything


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tail=st.binary(max_size=400), keep=st.booleans())
def test_fuzz_sigproc_header(tmp_path_factory: pytest.TempPathFactory, tail: bytes,
                             keep: bool) -> None:
    """Random bytes, with or without a valid ``HEADER_START``: a result or InputError."""
    from frbtriage.io.filterbank import FilterbankReader, scan_sigproc_header

    d = tmp_path_factory.mktemp("fz")
    path = d / "f.fil"
    path.write_bytes((_GOOD_HEADER if keep else b"") + tail)
    for read in (scan_sigproc_header, lambda p: FilterbankReader(p).close()):
        try:
            read(path)
        except InputError:
            pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6))
def test_fuzz_sigproc_header_mutations(tmp_path_factory: pytest.TempPathFactory,
                                       flips: list[tuple[int, int]]) -> None:
    """A valid file with a few header bytes changed: a result or InputError."""
    from frbtriage.io.filterbank import FilterbankReader

    d = tmp_path_factory.mktemp("fm")
    path = sigproc(d / "f.fil", np.zeros((64, 8), np.uint8), nchans=8)
    raw = bytearray(path.read_bytes())
    for pos, val in flips:
        raw[pos % 200] = val
    path.write_bytes(bytes(raw))
    try:
        with FilterbankReader(path) as fb:
            fb.read(0, fb.header.nspectra)
    except InputError:
        pass


_CELL = st.one_of(st.text(max_size=12), st.sampled_from(
    ["1", "-1", "nan", "inf", "1e400", "40", "0", "2.5", "", "x.fil", "1099511627776"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_CELL, min_size=0, max_size=7), max_size=5),
       header=st.sampled_from(["file,snr,stime,width,dm", "file,snr,stime,width,dm,label,"
                               "chan_mask_path,num_files", "snr,dm"]),
       lenient=st.booleans())
def test_fuzz_fetch_csv(tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]],
                        header: str, lenient: bool) -> None:
    from frbtriage.io.candidates import read_fetch_csv

    path = tmp_path_factory.mktemp("fc") / "c.csv"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    rejected: list[InputError] | None = [] if lenient else None
    try:
        out = read_fetch_csv(path, rejected)
    except InputError:
        return
    for c in out:
        assert c.width >= 1 and 0 <= c.dm and 0 <= c.tcand and math.isfinite(c.snr)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), lenient=st.booleans())
def test_fuzz_heimdall(tmp_path_factory: pytest.TempPathFactory, text: str,
                       lenient: bool) -> None:
    from frbtriage.io.candidates import read_heimdall

    path = tmp_path_factory.mktemp("fh") / "c.cand"
    path.write_text(text)
    try:
        read_heimdall(path, "obs.fil", rejected=[] if lenient else None)
    except InputError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_CELL, min_size=0, max_size=8), max_size=5),
       header=st.sampled_from(["beam,timestamp_fpga,timestamp_utc,dm,snr,tree_index,"
                               "rfi_grade_level1,chunks", "beam_no,fpga,dm,snr,tree_index",
                               "beam,timestamp_utc,dm,tree_index"]),
       lenient=st.booleans())
def test_fuzz_l1_events(tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]],
                        header: str, lenient: bool) -> None:
    from frbtriage.io.chime_events import read_l1_events

    folder = tmp_path_factory.mktemp("l1")
    path = folder / "events.csv"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    try:
        out = read_l1_events(path, data_file=folder, rejected=[] if lenient else None)
    except InputError:
        return
    assert not out  # the folder holds no chunks: no row can be served


# ---------------------------------------------------------------- the later verbs


def _stored(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with two candidates of ``ok.fil`` (ids 1, 2), and that file."""
    return _prepared(tmp_path, 2)


def _votes(tmp_path: Path, rows: list[str], name: str = "votes.csv") -> Path:
    path = tmp_path / name
    path.write_text("volunteer,answer,tags,candidate_id\n" + "".join(r + "\n" for r in rows))
    return path


VOTE_ROWS: list[tuple[Case, str]] = [
    (Case("votes-answer", "votes import: an unknown answer among good votes", "served",
          "unknown answer"), "bob,maybe,,2"),
    (Case("votes-candidate", "votes import: a vote on a candidate not stored", "served",
          "no candidate with id 99"), "bob,rfi,,99"),
    (Case("votes-tag", "votes import: an unknown tag", "served", "unknown tag"),
     "bob,rfi,sparkly,2"),
]


@pytest.mark.parametrize(("case", "row"), VOTE_ROWS, ids=[c.id for c, _ in VOTE_ROWS])
def test_bad_vote_among_good(case: Case, row: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """Good votes (lines 2 and 4) stored, the bad one (line 3) reported with its line and
    reason, exit 0; importing the file again adds nothing."""
    from frbtriage.crowd.votes import votes_of
    from frbtriage.workspace import Workspace

    ws, _ = _stored(tmp_path)
    votes = _votes(tmp_path, ["ada,astro,,1", row, "ada,rfi,,2"])
    capsys.readouterr()
    for _ in range(2):
        assert cli.main(["votes", "import", str(votes), "-w", str(ws)]) == 0
        out = capsys.readouterr().out
        assert "line 3" in out and case.expect in out
        with Workspace.open(ws) as w:
            assert len(votes_of(w)) == 2


VOTE_FILES = [
    Case("votes-non-utf8", "votes import: non-UTF-8 bytes", "refused", "not a UTF-8"),
    Case("votes-columns", "votes import: no answer column", "refused", "needs column(s) answer"),
    Case("votes-all-bad", "votes import: every row bad", "refused", "none of the 2 rows"),
    Case("zooniverse-json", "Zooniverse export whose annotations are not JSON", "refused",
         "none of the 1 rows"),
]


@pytest.mark.parametrize("case", VOTE_FILES, ids=[c.id for c in VOTE_FILES])
def test_bad_votes_file(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A votes file that is bad as a whole: one line, exit 2, no vote stored."""
    from frbtriage.crowd.votes import votes_of
    from frbtriage.workspace import Workspace

    ws, _ = _stored(tmp_path)
    votes = tmp_path / "votes.csv"
    extra: list[str] = []
    if case.id == "votes-non-utf8":
        votes.write_bytes(b"volunteer,answer,candidate_id\n\xff\xfe,astro,1\n")
    elif case.id == "votes-columns":
        votes.write_text("volunteer,candidate_id\nada,1\n")
    elif case.id == "votes-all-bad":
        _votes(tmp_path, ["ada,maybe,,1", "ada,astro,,99"])
    else:
        votes.write_text("user_name,annotations,subject_data,created_at\n"
                         'ada,{not json,"{""1"": {""candidate_id"": 1}}",2026-01-01T00:00:00Z\n')
        extra = ["--zooniverse"]
    capsys.readouterr()
    assert cli.main(["votes", "import", str(votes), "-w", str(ws), *extra]) == 2
    assert case.expect in _one_line(capsys.readouterr().err, votes)
    with Workspace.open(ws) as w:
        assert not votes_of(w)
    _intact(ws, 2)


INBOX_CASES = [
    Case("inbox-truncated", "nightly: a data file in the inbox cut short", "served",
         "skipped"),
    Case("inbox-garbage", "nightly: a file in the inbox that is not a filterbank", "served",
         "skipped"),
]


@pytest.mark.parametrize("case", INBOX_CASES, ids=[c.id for c in INBOX_CASES])
def test_bad_file_in_the_inbox(case: Case, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """The good file is processed, the bad one named on stderr and in the report, exit 3."""
    import json

    from frbtriage.nightly import EXIT_SKIPPED

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = sigproc(inbox / "good.fil")
    _csv(inbox, [GOOD_ROW.format(fil=good)], "good.csv")
    bad = inbox / "bad.fil"
    bad.write_bytes(good.read_bytes()[:-1000] if case.id == "inbox-truncated" else b"junk" * 9)
    ws = tmp_path / "ws"
    assert cli.main(["nightly", "-w", str(ws), "--inbox", str(inbox), "--workers", "0",
                     "--retrain", "never"]) == EXIT_SKIPPED
    assert f"{case.expect} {bad}" in capsys.readouterr().err
    summary = json.loads(next((ws / "reports").glob("*/summary.json")).read_text())
    assert [Path(f["path"]).name for f in summary["failed"]] == ["bad.fil"]
    _intact(ws, 1)


CHUNK_CASES = [
    Case("chunk-truncated", "a CHIME msgpack chunk cut short, in a chunk folder", "refused",
         "truncated"),
    Case("chunk-garbage", "a file in a chunk folder that is not a CHIME chunk", "refused",
         "not a CHIME msgpack chunk"),
]


@pytest.mark.parametrize("case", CHUNK_CASES, ids=[c.id for c in CHUNK_CASES])
def test_bad_chime_chunk(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """prepare of a list whose data is a chunk folder with one bad chunk: one line naming the
    chunk, exit 2, no workspace made."""
    from frbtriage.io.chime_msgpack import chunk_filename, encode_chunk, pack_chunk, write_chunk

    folder = tmp_path / "beam"
    folder.mkdir()
    x = np.random.default_rng(3).normal(100.0, 4.0, (1024, 2 * 1024))
    for k in range(2):
        ch = encode_chunk(x[:, k * 1024:(k + 1) * 1024], beam_id=5, fpga0=(50 + k) * 1024 * 384,
                          nupfreq=1, frame0_nano=0, version=2)
        write_chunk(folder / chunk_filename(ch), ch)
    last = sorted(folder.glob("*.msgpack"))[-1]
    raw = pack_chunk(encode_chunk(x[:, :1024], beam_id=5, fpga0=0, nupfreq=1, frame0_nano=0,
                                  version=2))
    last.write_bytes(raw[: len(raw) // 2] if case.id == "chunk-truncated"
                     else b"\x93\x01\x02\x03 not a chunk")
    lst = _csv(tmp_path, [f"{folder},10,0.5,1,50"])
    ws = tmp_path / "ws"
    capsys.readouterr()
    assert cli.main(["prepare", "-w", str(ws), "-c", str(lst), "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err, last)
    assert case.expect in line
    assert not ws.exists()


# ---------------------------------------------------------------- the README table


def all_cases() -> list[Case]:
    """Every case of the matrix, in the order of the README table."""
    return ([c for c, _ in FILE_CASES] + DATA_CASES + CHANGE_CASES + FITS_CASES
            + [c for c, _ in ROW_CASES] + LIST_CASES + [c for c, _ in L1_ROW_CASES]
            + L1_LIST_CASES + RANK_CASES + STORE_CASES + DISK_CASES
            + [c for c, _ in VOTE_ROWS] + VOTE_FILES + INBOX_CASES + CHUNK_CASES)


def matrix_table() -> str:
    """The README's table of the cases tried and their outcome (Markdown)."""
    lines = ["| case | what is wrong | outcome | the message or report says |",
             "|---|---|---|---|"]
    lines += [f"| `{c.id}` | {c.what} | {c.outcome} | {c.expect} |" for c in all_cases()]
    return "\n".join(lines) + "\n"


def test_readme_table_is_current() -> None:
    assert matrix_table() in (ROOT / "README.md").read_text(), (
        "README's Reliability table is stale: regenerate it with python tests/test_bad_input.py")


if __name__ == "__main__":
    print(matrix_table(), end="")
