"""``frbtriage score`` and ``frbtriage rank``: workspace scoring per model version, ranked CSV
from FETCH .h5 files and from candidate lists, and the shipped model on data_samples."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from frbtriage.cli import main
from frbtriage.io.candidates import Candidate
from frbtriage.io.fetch_h5 import write_fetch_h5
from frbtriage.model.config import ModelConfig, default_model_dir, load_model, save_model
from frbtriage.model.network import Architecture, EnsembleCNN
from frbtriage.model.train import TrainConfig, pool_images, train_ensemble
from frbtriage.workspace import NewCandidate, Workspace

SMALL = Architecture(input_size=16, input_rows=8, channels=(4, 8), hidden=8, members=3,
                     zoom=64)


def burst_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FETCH-sized (256 x 256) noise; odd-numbered ones carry a dedispersed burst and bow-tie."""
    rng = np.random.default_rng(seed)
    ft = rng.standard_normal((n, 256, 256), dtype=np.float32)
    dmt = rng.standard_normal((n, 256, 256), dtype=np.float32)
    y = (np.arange(n) % 2).astype(np.float32)
    for i in np.nonzero(y)[0]:
        ft[i, :, 124:132] += 1.0
        for r in range(256):
            w = 2 + abs(r - 128) // 8
            dmt[i, r, 128 - w:128 + w] += 8.0 / w
    return ft, dmt, y


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ensemble trained for a few seconds on :func:`burst_images`."""
    ft, dmt, y = burst_images(64, seed=0)
    net, _ = train_ensemble(pool_images(ft, dmt, SMALL), y, np.ones_like(y),
                            TrainConfig(epochs=5, batch_size=16, seed=0), SMALL)
    out = tmp_path_factory.mktemp("toy_model")
    save_model(net, ModelConfig(temperature=1.0, training={"data": "burst_images"}), out)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_rank_fetch_h5_files(tmp_path: Path, toy_model: Path) -> None:
    ft, dmt, y = burst_images(6, seed=5)
    paths = []
    for i in range(6):
        c = Candidate(file=f"/data/obs{i}.fil", tcand=1.0 + i, dm=100.0 + i, width=4,
                      snr=8.0 + i, label=int(y[i]))
        paths.append(str(write_fetch_h5(tmp_path / f"c{i}.h5", c, ft[i], dmt[i], None)))
    out = tmp_path / "ranked.csv"
    assert main(["rank", *paths, "-o", str(out), "--model", str(toy_model)]) == 0
    rows = read_csv(out)
    assert list(rows[0]) == ["file", "snr", "stime", "width", "dm", "label", "chan_mask_path",
                             "num_files", "p_astro", "p_std", "bald", "model_version",
                             "dispersion_index", "dispersion_err", "cold_plasma", "p_checked"]
    assert len(rows) == 6
    p = np.array([float(r["p_astro"]) for r in rows])
    assert np.all(np.diff(p) <= 0), "sorted by p_astro descending"
    assert all(0 <= float(r["p_std"]) <= 0.5 and 0 <= float(r["bald"]) <= np.log(2) + 1e-6
               for r in rows)
    assert {r["label"] for r in rows[:3]} == {"1"}, "the three bursts rank first"
    assert rows[0]["width"] == "2"  # log2 samples, as in the your/FETCH CSV
    assert rows[0]["model_version"] == load_model(toy_model).version


def test_rank_keeps_a_given_workspace(tmp_path: Path, toy_model: Path) -> None:
    ft, dmt, _ = burst_images(2, seed=6)
    c = Candidate(file="/data/x.fil", tcand=2.0, dm=50.0, width=2, snr=9.0)
    h5 = write_fetch_h5(tmp_path / "x.h5", c, ft[1], dmt[1], None)
    ws_dir = tmp_path / "ws"
    for _ in range(2):  # a second run adds nothing and re-uses the stored score
        assert main(["rank", str(h5), "-o", str(tmp_path / "r.csv"), "--model", str(toy_model),
                     "--workspace", str(ws_dir)]) == 0
    with Workspace.open(ws_dir) as ws:
        assert len(ws) == 1


def test_rank_refuses_h5_without_dm_time(tmp_path: Path, toy_model: Path, capsys) -> None:
    import h5py

    ft, dmt, _ = burst_images(1, seed=7)
    c = Candidate(file="/data/x.fil", tcand=2.0, dm=50.0, width=2, snr=9.0)
    h5 = write_fetch_h5(tmp_path / "x.h5", c, ft[0], dmt[0], None)
    with h5py.File(h5, "a") as f:
        del f["data_dm_time"]
    assert main(["rank", str(h5), "-o", str(tmp_path / "r.csv"), "--model",
                 str(toy_model)]) == 2
    assert "data_dm_time" in capsys.readouterr().err


def test_score_workspace_per_model_version(tmp_path: Path, toy_model: Path, capsys) -> None:
    from frbtriage import db

    ft, dmt, y = burst_images(10, seed=8)
    with Workspace.create(tmp_path / "ws") as ws:
        ws.append([NewCandidate(file="/d/a.fil", tcand=float(i), dm=100.0, width=2, snr=8.0,
                                label=int(y[i])) for i in range(6)], ft[:6], dmt[:6])
    assert main(["score", "--workspace", str(tmp_path / "ws"), "--model", str(toy_model)]) == 0
    assert "scored 6 candidates" in capsys.readouterr().out
    with Workspace.create(tmp_path / "ws", exist_ok=True) as ws:
        ws.append([NewCandidate(file="/d/a.fil", tcand=float(i), dm=100.0, width=2, snr=8.0)
                   for i in range(6, 10)], ft[6:], dmt[6:])
    assert main(["score", "--workspace", str(tmp_path / "ws"), "--model", str(toy_model)]) == 0
    assert "scored 4 candidates" in capsys.readouterr().out
    # another model version scores everything again, its scores kept apart
    other = tmp_path / "other"
    save_model(EnsembleCNN(SMALL), ModelConfig(), other)
    assert main(["score", "--workspace", str(tmp_path / "ws"), "--model", str(other)]) == 0
    assert "scored 10 candidates" in capsys.readouterr().out
    with Workspace.open(tmp_path / "ws") as ws, ws.session() as s:
        a = db.read_scores(s, load_model(toy_model).version)
        b = db.read_scores(s, load_model(other).version)
    assert len(a) == len(b) == 10
    pa = np.array([r.p_astro for r in a])
    assert pa[y == 1].mean() > pa[y == 0].mean()


def test_score_bad_model_folder(tmp_path: Path, capsys) -> None:
    Workspace.create(tmp_path / "ws").close()
    assert main(["score", "--workspace", str(tmp_path / "ws"), "--model",
                 str(tmp_path / "nope")]) == 2
    assert "model folder does not exist" in capsys.readouterr().err


def test_shipped_model_loads() -> None:
    m = load_model()
    assert m.path == default_model_dir()
    assert m.config.metrics["held_out"]["roc_auc"] > 0.95
    size = sum(p.stat().st_size for p in default_model_dir().iterdir())
    assert size < 5e6, "shipped model stays a few MB at most"


@pytest.mark.slow
def test_shipped_model_ranks_data_samples(tmp_path: Path, samples_dir: Path) -> None:
    """prepare + score the sample candidates; bursts rank above RFI/noise on average, and a
    FETCH .h5 exported from the workspace gets the same score through ``rank``."""
    from frbtriage import db

    cands = samples_dir / "chime_sim" / "candidates.csv"
    out = tmp_path / "ranked.csv"
    ws_dir = tmp_path / "ws"
    assert main(["rank", str(cands), "-o", str(out), "--workspace", str(ws_dir)]) == 0
    rows = read_csv(out)
    n_in = sum(1 for _ in open(cands)) - 1
    assert len(rows) == n_in
    given = read_csv(cands)  # the list's columns come back exactly as written (issue 14)
    assert sorted(tuple(r[k] for k in given[0]) for r in rows) == \
        sorted(tuple(r.values()) for r in given)
    scored = [r for r in rows if r["p_astro"]]
    p = np.array([float(r["p_astro"]) for r in scored])
    lab = np.array([int(r["label"]) for r in scored])
    assert np.all(np.diff(p) <= 0)
    assert p[lab == 1].mean() > p[lab == 0].mean() + 0.3
    assert p[lab == 1].min() > np.median(p[lab == 0])

    with Workspace.open(ws_dir) as ws:
        rec = max((r for r in ws.candidates() if r.label == 1), key=lambda r: r.snr)
        ft, dmt = ws.candidate_images(rec.id)
        with ws.session() as s:
            want = db.read_scores(s, load_model().version, [rec.id])[0].p_astro
    c = Candidate(file=rec.file, tcand=rec.tcand, dm=rec.dm, width=rec.width, snr=rec.snr,
                  label=rec.label)
    h5 = write_fetch_h5(tmp_path / "burst.h5", c, ft, dmt, None)
    assert main(["rank", str(h5), "-o", str(tmp_path / "h5.csv")]) == 0
    got = float(read_csv(tmp_path / "h5.csv")[0]["p_astro"])
    assert got == pytest.approx(want, abs=1e-4)
