"""``frbtriage.ranking``: the ranked CSV's exact bytes, and the API without the CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from frbtriage import db
from frbtriage.dispersion import VETO_MAX_ERR, cold_plasma, vetoes
from frbtriage.errors import InputError
from frbtriage.io.candidates import HEIMDALL_COLUMNS, Candidate, read_heimdall
from frbtriage.io.fetch_h5 import write_fetch_h5
from frbtriage.model.config import ModelConfig, load_model, save_model
from frbtriage.model.network import Architecture, EnsembleCNN
from frbtriage.ranking import (
    RankedRow,
    RankOptions,
    RankResult,
    best_first,
    rank_candidates,
    read_rank_inputs,
    write_ranked_csv,
)


def test_ranked_csv_bytes(tmp_path: Path) -> None:
    """Column order, number formats and quoting of records without list text (FETCH .h5
    inputs): floats in full precision, so nothing is rounded away; a sweep that is not cold
    plasma's is ranked at p_checked = 0.5."""
    a = Candidate(file='/d/a,"b".fil', tcand=1.25, dm=100.123456789, width=8, snr=12.3456789,
                  label=1)
    b = Candidate(file="/d/b.fil", tcand=3.0, dm=0.5, width=1, snr=7.0)
    c = Candidate(file="/d/c.fil", tcand=4.0, dm=300.0, width=4, snr=20.0)
    result = RankResult(rows=[RankedRow(a, db.ScoreRow(1, "v1", 0.98765432, 0.0123, 0.00045),
                                        (2.00123, 0.00456, 9.7)),
                              RankedRow(c, db.ScoreRow(3, "v1", 0.97, 0.01, 0.001),
                                        (1.5, 0.01, 2.0)),
                              RankedRow(b, None)], model_version="v1")
    out = write_ranked_csv(tmp_path / "sub" / "r.csv", result)
    assert out.read_bytes() == (
        b"file,snr,stime,width,dm,label,chan_mask_path,num_files,p_astro,p_std,bald,"
        b"model_version,dispersion_index,dispersion_err,cold_plasma,p_checked\n"
        b'"/d/a,""b"".fil",12.3456789,1.25,3,100.123456789,1,,,0.987654,0.012300,0.000450,v1,'
        b"2.0012,0.0046,yes,0.987654\n"
        b"/d/c.fil,20.0,4.0,2,300.0,,,,0.970000,0.010000,0.001000,v1,1.5000,0.0100,no,"
        b"0.500000\n"
        b"/d/b.fil,7.0,3.0,0,0.5,,,,,,,,,,,\n")
    assert result.n_scored == 2
    with pytest.raises(InputError, match="is a folder"):
        write_ranked_csv(tmp_path, result)


def test_best_first_ranks_by_the_checked_p_astro() -> None:
    """The dispersion-law check is a veto: a confident score on a sweep that is measured and
    not cold plasma's (wrong index, or low frequencies first) ranks at 0.5, below a less
    confident burst; a consistent or unmeasured sweep keeps its p_astro; unscored rows come
    last in input order, ties in input order."""
    def row(name: str, p: float | None, disp=None) -> RankedRow:  # noqa: ANN001
        sc = None if p is None else db.ScoreRow(0, "v1", p, 0.0, 0.0)
        return RankedRow(Candidate(file=name, tcand=1.0, dm=50.0, width=1, snr=8.0), sc, disp)

    rows = [row("unscored-1", None), row("peryton", 0.99, (1.90, 0.01, 0.3)),
            row("burst", 0.8, (2.001, 0.002, 0.3)), row("faint", 0.6),
            row("reversed", 0.95, (2.0, 0.01, -0.2)), row("unscored-2", None),
            row("noise", 0.5), row("peryton-low", 0.3, (1.5, 0.01, 0.3)),
            # a burst whose sub-band times interference pulled: not 2 within its errors,
            # but measured too loosely (error > VETO_MAX_ERR) to cap its score
            row("loose", 0.7, (0.4, 0.3, 0.3))]
    got = best_first(rows)
    assert [r.candidate.file for r in got] == [
        "burst", "loose", "faint", "peryton", "reversed", "noise", "peryton-low", "unscored-1",
        "unscored-2"]
    assert [r.vetoed for r in got] == [False, False, False, True, True, False, False, False,
                                       False]
    assert cold_plasma(0.4, 0.3, 0.3) is False and not vetoes(0.4, 0.3, 0.3)
    assert vetoes(0.4, VETO_MAX_ERR, 0.3) and not vetoes(0.4, 1.001 * VETO_MAX_ERR, 0.3)
    assert got[3].p_checked == 0.5 and got[3].score.p_astro == 0.99
    assert got[6].p_checked == 0.3, "a veto never raises a score"


def _scored(cands: list[Candidate]) -> RankResult:
    return RankResult(rows=[RankedRow(c, db.ScoreRow(i, "v1", 0.5, 0.1, 0.01))
                            for i, c in enumerate(cands)], model_version="v1")


def test_ranked_csv_writes_list_columns_back_as_read(tmp_path: Path) -> None:
    """Issue 14: a your/FETCH list's columns come back byte for byte (1220.073 is not
    rounded to 1220.07, 0.00098304e3 keeps its spelling, a relative file stays relative), so
    the output joins to the user's own table."""
    lines = ["obs.fil,12.3456789,0.00098304e3,3,1220.073,-1,,1",
             "sub/b.fil,7.000,12.5,0,0.5,1,mask.txt,2",
             '"a,b.fil",1e1,1.0000001,1.0,99.99999999,0,,1']
    lst = tmp_path / "c.csv"
    lst.write_text("file,snr,stime,width,dm,label,chan_mask_path,num_files\n"
                   + "\n".join(lines) + "\n")
    given = read_rank_inputs([lst])
    out = write_ranked_csv(tmp_path / "r.csv", _scored([c for _, c in given.listed]))
    got = out.read_text().splitlines()
    assert got[0] == ("file,snr,stime,width,dm,label,chan_mask_path,num_files,p_astro,p_std,"
                      "bald,model_version,dispersion_index,dispersion_err,cold_plasma,"
                      "p_checked")
    for line, row in zip(lines, got[1:], strict=True):
        assert row == line + ",0.500000,0.100000,0.010000,v1,,,,0.500000"


def test_ranked_csv_writes_heimdall_columns_back_as_read(tmp_path: Path) -> None:
    lines = ["12.3456789\t1017\t0.99975168\t3\t42\t1220.073\t5\t1010\t1017",
             "7.5  2034  1.99950336  0  0  0.00098304e3  1  2034  2034  7"]  # a beam column
    cand = tmp_path / "h.cand"
    cand.write_text("\n".join(lines) + "\n")
    cands = read_heimdall(cand, tmp_path / "obs.fil", tsamp=0.00098304)
    got = list(csv.DictReader(io.StringIO(
        write_ranked_csv(tmp_path / "r.csv", _scored(cands)).read_text())))
    assert list(got[0])[8:15] == ["sample", "time", "filter", "dm_trial", "members", "first",
                                  "last"]
    for line, row in zip(lines, got, strict=True):
        assert [row[c] for c in HEIMDALL_COLUMNS] == line.split()[:9]
    assert got[0]["file"] == str(tmp_path / "obs.fil") and got[0]["width"] == "3"
    assert float(got[0]["stime"]) == 1017 * 0.00098304  # from sample x tsamp, full precision


def test_rank_candidates_from_python(tmp_path: Path) -> None:
    arch = Architecture(input_size=16, input_rows=8, channels=(4, 8), hidden=8, members=2,
                        zoom=64)
    save_model(EnsembleCNN(arch), ModelConfig(temperature=1.0), tmp_path / "model")
    model = load_model(tmp_path / "model")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        c = Candidate(file=f"/d/{i}.fil", tcand=1.0 + i, dm=10.0, width=2, snr=8.0)
        paths.append(write_fetch_h5(tmp_path / f"{i}.h5", c,
                                    rng.standard_normal((256, 256), dtype=np.float32),
                                    rng.standard_normal((256, 256), dtype=np.float32), None))
    result = rank_candidates(paths, model, RankOptions(workspace=tmp_path / "ws"))
    assert result.model_version == model.version and result.n_scored == 3
    p = [r.score.p_astro for r in result.rows]
    assert p == sorted(p, reverse=True)
    with pytest.raises(InputError, match="batch-size"):
        rank_candidates(paths, model, RankOptions(batch_size=0))
