"""Candidate lists: your/FETCH CSV and Heimdall .cand, round trips and bad input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frbtriage.errors import InputError
from frbtriage.io.candidates import (
    Candidate,
    read_candidates,
    read_fetch_csv,
    read_heimdall,
    write_fetch_csv,
    write_heimdall,
)

CSV_TEXT = """file,snr,stime,width,dm,label,chan_mask_path,num_files
obs.fil,12.5,0.946,3,56.77,1,,1
/abs/other.fil,7.25,1.5,0,0.0,0,,1
sub/x.fil,8.0,2.0,5,1200.5,,,1
"""

# A Heimdall line as heimdall writes it (tab separated), plus a comment and a blank line.
CAND_TEXT = """# snr sample time filter dm_trial dm members first last
10.2\t1848\t0.946176\t2\t35\t56.77\t120\t1840\t1850

8.1\t100\t0.0512\t0\t0\t0\t3\t99\t101\t7
"""


def test_read_fetch_csv_values_and_paths(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(CSV_TEXT)
    cands = read_fetch_csv(tmp_path / "c.csv")
    assert len(cands) == 3
    a, b, c = cands
    assert a == Candidate(
        file=str(tmp_path.resolve() / "obs.fil"),
        tcand=0.946,
        dm=56.77,
        width=8,
        snr=12.5,
        label=1,
        origin=f"fetch_csv:{(tmp_path / 'c.csv').resolve()}:2",
    )
    assert b.file == "/abs/other.fil" and b.width == 1 and b.dm == 0.0 and b.label == 0
    assert c.file == str(tmp_path.resolve() / "sub" / "x.fil") and c.width == 32
    assert c.label is None


def test_fetch_csv_optional_columns_and_order(tmp_path: Path) -> None:
    p = tmp_path / "min.csv"
    p.write_text("dm,width,extra,stime,snr,file\n100,1,zz,3.25,9,a.fil\n\n")
    (cand,) = read_fetch_csv(p)
    assert (cand.dm, cand.width, cand.tcand, cand.snr, cand.label) == (100.0, 2, 3.25, 9.0, None)
    p.write_text("file,snr,stime,width,dm\n")
    assert read_fetch_csv(p) == []


def test_fetch_csv_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cands = [
        Candidate(str(data / "obs.fil"), 0.123456789012, 345.678, 16, 11.5, 1),
        Candidate("/elsewhere/y.fil", 10.0, 0.0, 1, 6.0, None),
        Candidate(str(data / "obs.fil"), 1.0, 3000.0, 3, 50.0, 0),  # width not a power of 2
    ]
    out = data / "cands.csv"
    write_fetch_csv(out, cands)
    text = out.read_text().splitlines()
    assert text[0] == "file,snr,stime,width,dm,label,chan_mask_path,num_files"
    assert text[1].startswith("obs.fil,11.5,0.123456789012,4,345.678,1,,1")
    assert ",-1,," in text[2] and text[2].startswith("/elsewhere/y.fil")
    back = read_fetch_csv(out)
    assert [(c.file, c.tcand, c.dm, c.width, c.snr, c.label) for c in back] == [
        (c.file, c.tcand, c.dm, c.width, c.snr, c.label) for c in cands
    ]
    assert [p.name for p in data.iterdir()] == ["cands.csv"]  # no temp file left behind


def test_fetch_csv_readable_by_pandas_like_candmaker(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    out = tmp_path / "c.csv"
    write_fetch_csv(out, [Candidate(str(tmp_path / "o.fil"), 1.5, 100.0, 8, 9.0, 1)])
    row = pd.read_csv(out).iloc[0]
    # what your_candmaker.py does with the row
    assert 2 ** row["width"] == 8 and row["stime"] == 1.5 and row["dm"] == 100.0
    assert row["file"] == "o.fil" and row["num_files"] == 1 and row["label"] == 1


@settings(max_examples=40, deadline=None)
@given(
    tcand=st.floats(0, 1e5, allow_nan=False),
    dm=st.floats(0, 1e4, allow_nan=False),
    log2w=st.integers(0, 12),
    snr=st.floats(-1e3, 1e6, allow_nan=False),
    label=st.sampled_from([None, 0, 1]),
)
def test_fetch_csv_round_trip_any_values(
    tmp_path_factory: pytest.TempPathFactory,
    tcand: float,
    dm: float,
    log2w: int,
    snr: float,
    label: int | None,
) -> None:
    d = tmp_path_factory.mktemp("rt")
    c = Candidate(str(d / "f.fil"), tcand, dm, 2**log2w, snr, label)
    write_fetch_csv(d / "c.csv", [c])
    (b,) = read_fetch_csv(d / "c.csv")
    assert (b.file, b.tcand, b.dm, b.width, b.snr, b.label) == (
        c.file, c.tcand, c.dm, c.width, c.snr, c.label,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        ("  \n\n", "empty file"),
        ("file,snr,stime,dm\na.fil,1,2,3\n", "lacks column.*width"),
        ("file,snr,width\na.fil,1,2\n", "lacks column.*stime, dm"),
        (
            "file,snr,stime,width,dm\na.fil,abc,1,2,3\n",
            "line 2, column 'snr': 'abc' is not a number",
        ),
        ("file,snr,stime,width,dm\na.fil,1,1,2,3\nb.fil,1,x,2,3\n", "line 3, column 'stime'"),
        ("file,snr,stime,width,dm\na.fil,1,1,2,nan\n", "column 'dm'.*not a finite"),
        ("file,snr,stime,width,dm\na.fil,1,1,2,-5\n", "line 2, column 'dm': negative DM"),
        ("file,snr,stime,width,dm\na.fil,1,1,-1,5\n", "column 'width'.*must be >= 0"),
        ("file,snr,stime,width,dm\na.fil,1,1,0.5,5\n", "not a whole number"),
        ("file,snr,stime,width,dm\na.fil,1,-1,1,5\n", "negative candidate time"),
        ("file,snr,stime,width,dm\na.fil,1,1,1\n", "line 2: 4 fields, the header has 5"),
        ("file,snr,stime,width,dm\n,1,1,1,1\n", "column 'file': empty"),
        ("file,snr,stime,width,dm,label\na.fil,1,1,1,1,7\n", "column 'label'"),
    ],
)
def test_fetch_csv_bad_input(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        read_fetch_csv(p)
    assert str(e.value).startswith(str(p) + ": ")


def test_missing_files(tmp_path: Path) -> None:
    for name in ("none.csv", "none.cand"):
        with pytest.raises(InputError, match="file not found"):
            read_candidates(tmp_path / name, data_file=tmp_path / "x.fil")
    with pytest.raises(InputError, match="unknown candidate list type '.txt'"):
        read_candidates(tmp_path / "c.txt")


def test_read_heimdall(tmp_path: Path) -> None:
    p = tmp_path / "x.cand"
    p.write_text(CAND_TEXT)
    a, b = read_heimdall(p, tmp_path / "obs.fil")
    assert a.file == str(tmp_path / "obs.fil") and a.origin.endswith("x.cand:2")
    assert (a.snr, a.tcand, a.width, a.dm, a.label) == (10.2, 0.946176, 4, 56.77, None)
    assert (b.width, b.dm, b.tcand) == (1, 0.0, 0.0512)
    a2, _ = read_heimdall(p, tmp_path / "obs.fil", tsamp=0.000512)
    assert a2.tcand == pytest.approx(1848 * 0.000512)
    (tmp_path / "empty.cand").write_text("")
    assert read_heimdall(tmp_path / "empty.cand", tmp_path / "obs.fil") == []


def test_read_candidates_dispatch_heimdall_uses_file_tsamp(real_fil: Path, tmp_path: Path) -> None:
    p = tmp_path / "x.cand"
    p.write_text("10\t1848\t0.9\t2\t35\t56.77\t120\t1840\t1850\n")
    (c,) = read_candidates(p, data_file=real_fil)
    assert c.tcand == pytest.approx(1848 * 0.000512) and c.file == str(real_fil)
    with pytest.raises(InputError, match="needs the data file"):
        read_candidates(p)


def test_heimdall_round_trip(tmp_path: Path) -> None:
    tsamp = 0.00098304
    cands = [
        Candidate(str(tmp_path / "o.fil"), 1000 * tsamp, 500.0, 8, 12.0),
        Candidate(str(tmp_path / "o.fil"), 20 * tsamp, 0.0, 1, 7.5),
    ]
    write_heimdall(tmp_path / "o.cand", cands, tsamp)
    fields = (tmp_path / "o.cand").read_text().splitlines()[0].split("\t")
    assert fields[1] == "1000" and fields[3] == "3" and fields[4] == "1"  # dm_trial rank
    back = read_heimdall(tmp_path / "o.cand", tmp_path / "o.fil", tsamp=tsamp)
    for c, b in zip(cands, back, strict=True):
        assert (b.file, b.dm, b.width, b.snr) == (c.file, c.dm, c.width, c.snr)
        assert math.isclose(b.tcand, c.tcand, rel_tol=1e-12)
    with pytest.raises(ValueError, match="power of two"):
        write_heimdall(tmp_path / "p.cand", [Candidate("a.fil", 1.0, 1.0, 3, 1.0)], tsamp)
    assert not (tmp_path / "p.cand").exists()


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("10 1848 0.9 2 35 56.77 120 1840", "line 1: 8 columns"),
        ("10 1848 0.9 2 35 -3 120 1840 1850", "negative DM"),
        ("10 1848 0.9 -1 35 3 120 1840 1850", "column 'filter'.*must be >= 0"),
        ("10 1848 0.9 two 35 3 120 1840 1850", "column 'filter': 'two' is not a number"),
        ("10 18.5 0.9 2 35 3 120 1840 1850", "column 'sample'.*not a whole number"),
    ],
)
def test_heimdall_bad_input(tmp_path: Path, line: str, match: str) -> None:
    p = tmp_path / "bad.cand"
    p.write_text(line + "\n")
    with pytest.raises(InputError, match=match):
        read_heimdall(p, tmp_path / "o.fil")


def test_writers_refuse_impossible_records(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    write_fetch_csv(out, [Candidate("a.fil", 1.0, 1.0, 1, 1.0)])
    before = out.read_bytes()
    for bad in (
        Candidate("a.fil", 1.0, -1.0, 1, 1.0),
        Candidate("a.fil", 1.0, 1.0, 0, 1.0),
        Candidate("a.fil", float("nan"), 1.0, 1, 1.0),
    ):
        with pytest.raises(ValueError, match="cannot be written"):
            write_fetch_csv(out, [bad])
    assert out.read_bytes() == before  # the old list is untouched
