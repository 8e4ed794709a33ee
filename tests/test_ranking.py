"""``frbtriage.ranking``: the ranked CSV's exact bytes, and the API without the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frbtriage import db
from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate
from frbtriage.io.fetch_h5 import write_fetch_h5
from frbtriage.model.config import ModelConfig, load_model, save_model
from frbtriage.model.network import Architecture, EnsembleCNN
from frbtriage.ranking import (
    RankedRow,
    RankOptions,
    RankResult,
    rank_candidates,
    write_ranked_csv,
)


def test_ranked_csv_bytes(tmp_path: Path) -> None:
    """Column order, number formats and quoting as the first release of ``rank`` wrote them."""
    a = Candidate(file='/d/a,"b".fil', tcand=1.25, dm=100.123456789, width=8, snr=12.3456789,
                  label=1)
    b = Candidate(file="/d/b.fil", tcand=3.0, dm=0.5, width=1, snr=7.0)
    result = RankResult(rows=[RankedRow(a, db.ScoreRow(1, "v1", 0.98765432, 0.0123, 0.00045)),
                              RankedRow(b, None)], model_version="v1")
    out = write_ranked_csv(tmp_path / "sub" / "r.csv", result)
    assert out.read_bytes() == (
        b"file,snr,stime,width,dm,label,p_astro,p_std,bald,model_version\n"
        b'"/d/a,""b"".fil",12.3457,1.2500000,3,100.123,1,0.987654,0.012300,0.000450,v1\n'
        b"/d/b.fil,7,3.0000000,0,0.5,,,,,\n")
    assert result.n_scored == 1
    with pytest.raises(InputError, match="is a folder"):
        write_ranked_csv(tmp_path, result)


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
