"""Workspace store: create/open, atomic append, duplicates, orphans, corruption, scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frbtriage import db
from frbtriage.errors import InputError
from frbtriage.workspace import NewCandidate, Workspace


def _batch(n: int, seed: int = 0, file: str = "/data/a.fil", t0: float = 1.0):
    rng = np.random.default_rng(seed)
    cands = [NewCandidate(file, t0 + 0.5 * i, 100.0 + i, 4, 8.0 + i, label=i % 2,
                          origin="test") for i in range(n)]
    ft = rng.standard_normal((n, 256, 256)).astype(np.float32)
    dmt = rng.standard_normal((n, 256, 256)).astype(np.float32)
    return cands, ft, dmt


def test_create_append_reopen(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    assert len(ws) == 0 and ws.ft.shape == (0, 256, 256)
    cands, ft, dmt = _batch(4)
    ids = ws.append(cands, ft, dmt)
    assert len(ids) == 4 and len(ws) == 4
    ws.close()
    with Workspace.open(tmp_path / "ws") as ws2:
        recs = ws2.candidates()
        assert [r.row for r in recs] == [0, 1, 2, 3]
        assert recs[1].label == 1 and recs[0].origin == "test" and not recs[0].padded
        got_ft, got_dmt = ws2.images([r.row for r in recs])
        np.testing.assert_array_equal(got_ft, ft)
        np.testing.assert_array_equal(got_dmt, dmt)
        f2, d2 = ws2.candidate_images(ids[2])
        np.testing.assert_array_equal(f2, ft[2])
        np.testing.assert_array_equal(d2, dmt[2])
        # non-contiguous selection
        np.testing.assert_array_equal(ws2.images([3, 0])[0], ft[[3, 0]])


def test_ids_of_finds_stored_candidates_by_key(tmp_path):
    """``ids_of`` maps duplicate keys (rounded tcand/dm, absolute file) to stored ids and
    leaves out keys that are not stored."""
    with Workspace.create(tmp_path / "ws") as ws:
        cands, ft, dmt = _batch(3)
        ids = ws.append(cands, ft, dmt)
        keys = [db.candidate_key(c.file, c.tcand + 2e-5, c.dm + 1e-3, c.width) for c in cands]
        missing = db.candidate_key("/data/b.fil", 1.0, 100.0, 4)
        wider = db.candidate_key("/data/a.fil", 1.0, 100.0, 8)
        assert ws.ids_of(keys + [missing, wider]) == dict(zip(keys, ids, strict=True))
        assert ws.ids_of([]) == {}


def test_duplicates_add_nothing(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    cands, ft, dmt = _batch(3)
    assert len(ws.append(cands, ft, dmt)) == 3
    assert ws.append(cands, ft, dmt) == []
    # tiny float noise in tcand / dm is the same candidate; a different width is not
    c0 = cands[0]
    near = NewCandidate(c0.file, c0.tcand + 1e-6, c0.dm + 1e-4, c0.width, c0.snr)
    other = NewCandidate(c0.file, c0.tcand, c0.dm, c0.width * 2, c0.snr)
    ids = ws.append([near, other, other], ft[:3], dmt[:3])
    assert len(ids) == 1 and len(ws) == 4
    assert ws.ft.shape[0] == 4
    np.testing.assert_array_equal(ws.images([3])[0][0], ft[1])


def test_orphan_rows_are_overwritten(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    cands, ft, dmt = _batch(2)
    ws.append(cands, ft, dmt)
    # an interrupted run: arrays grown and written, database never committed
    ws.ft.resize((5, 256, 256))
    ws.dmt.resize((5, 256, 256))
    ws.ft[2:5] = 7.0
    ws.close()
    ws = Workspace.open(tmp_path / "ws")
    assert len(ws) == 2
    more, ft2, dmt2 = _batch(1, seed=3, t0=50.0)
    ws.append(more, ft2, dmt2)
    assert ws.ft.shape[0] == 3 and len(ws) == 3
    np.testing.assert_array_equal(ws.images([2])[0][0], ft2[0])


def test_failed_commit_leaves_no_rows(tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    ws = Workspace.create(tmp_path / "ws")
    cands, ft, dmt = _batch(2)
    ws.append(cands[:1], ft[:1], dmt[:1])

    def boom(*_a, **_k):
        raise OperationalError("insert", {}, Exception("disk full (simulated)"))

    monkeypatch.setattr(Session, "add_all", boom)
    with pytest.raises(InputError, match="could not write to the database"):
        ws.append(cands[1:], ft[1:], dmt[1:])
    monkeypatch.undo()
    assert len(ws) == 1 and ws.ft.shape[0] == 1
    assert len(ws.append(cands[1:], ft[1:], dmt[1:])) == 1


def test_create_refuses_existing(tmp_path):
    Workspace.create(tmp_path / "ws").close()
    with pytest.raises(InputError, match="already a workspace"):
        Workspace.create(tmp_path / "ws")
    Workspace.create(tmp_path / "ws", exist_ok=True).close()
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "triage.db").write_bytes(b"keep me")
    with pytest.raises(InputError, match="refusing to overwrite"):
        Workspace.create(stray)
    assert (stray / "triage.db").read_bytes() == b"keep me"


def test_open_errors(tmp_path):
    with pytest.raises(InputError, match="not a workspace"):
        Workspace.open(tmp_path)
    ws = Workspace.create(tmp_path / "ws")
    ws.append(*_batch(1))
    ws.close()
    root = tmp_path / "ws"

    toml = (root / "frbtriage.toml").read_text()
    (root / "frbtriage.toml").write_text("[database\nurl = ")
    with pytest.raises(InputError, match="frbtriage.toml: corrupt workspace settings"):
        Workspace.open(root)
    (root / "frbtriage.toml").write_text(toml)

    good_db = (root / "triage.db").read_bytes()
    (root / "triage.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="triage.db: not a readable database"):
        Workspace.open(root)
    assert (root / "triage.db").read_bytes() == b"this is not sqlite" * 100  # not overwritten
    (root / "triage.db").unlink()
    with pytest.raises(InputError, match="database is missing"):
        Workspace.open(root)
    (root / "triage.db").write_bytes(good_db)

    meta = root / "arrays.zarr" / "ft" / "zarr.json"
    good_meta = meta.read_bytes()
    meta.write_text("{ broken")
    with pytest.raises(InputError, match="arrays.zarr: corrupt or missing zarr store"):
        Workspace.open(root)
    meta.write_bytes(good_meta)
    Workspace.open(root).close()


def test_store_shorter_than_database_is_an_error(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    ws.append(*_batch(3))
    ws.ft.resize((1, 256, 256))
    ws.close()
    with pytest.raises(InputError, match="damaged"):
        Workspace.open(tmp_path / "ws")


def test_scores_and_models(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    ids = ws.append(*_batch(4))
    with ws.session() as s, s.begin():
        db.register_model(s, "cnn-aaa", path="/m/a", status="current")
        db.add_scores(s, "cnn-aaa", ids[:2], [0.9, 0.1], [0.05, 0.02], [0.01, 0.0])
    with ws.session() as s:
        assert [c.id for c in db.unscored_candidates(s, "cnn-aaa")] == ids[2:]
        assert [c.id for c in db.unscored_candidates(s, "cnn-bbb")] == ids
        rows = db.read_scores(s, "cnn-aaa")
        assert [r.candidate_id for r in rows] == ids[:2]
        assert rows[0].p_astro == pytest.approx(0.9) and rows[1].p_std == pytest.approx(0.02)
        assert db.current_model(s).version == "cnn-aaa"
    with ws.session() as s, s.begin():
        # re-scoring replaces; a new model version registers itself
        db.add_scores(s, "cnn-aaa", ids[:1], [0.5], [0.1], [0.2])
        db.add_scores(s, "cnn-bbb", ids, [0.2] * 4, [0.0] * 4, [0.0] * 4)
        db.register_model(s, "cnn-bbb", status="current")
    with ws.session() as s:
        assert db.read_scores(s, "cnn-aaa", ids[:1])[0].p_astro == pytest.approx(0.5)
        assert db.unscored_candidates(s, "cnn-bbb") == []
        assert db.current_model(s).version == "cnn-bbb"
        assert s.get(db.ModelRecord, "cnn-aaa").status == "retired"
    with ws.session() as s, pytest.raises(ValueError, match="finite"):
        db.add_scores(s, "cnn-aaa", ids[:1], [float("nan")], [0.0], [0.0])


def test_export_import_h5_round_trip(tmp_path, capsys):
    from frbtriage.cli import main
    from frbtriage.io.fetch_h5 import read_fetch_h5

    sample = Path(__file__).resolve().parents[1] / "data_samples" / "chime_sim" / "obs.fil"
    ws = Workspace.create(tmp_path / "ws")
    c1, ft1, dmt1 = _batch(2, seed=5, file=str(sample))
    c2, ft2, dmt2 = _batch(1, seed=6, file=str(tmp_path / "gone.fil"))  # no header available
    c2 = [NewCandidate(c2[0].file, c2[0].tcand, c2[0].dm, c2[0].width, c2[0].snr,
                       label=None, padded=True, origin="x")]
    ws.append(c1 + c2, np.concatenate([ft1, ft2]), np.concatenate([dmt1, dmt2]))
    ws.close()

    out = tmp_path / "h5"
    assert main(["export-h5", "-w", str(tmp_path / "ws"), str(out), "--no-progress"]) == 0
    files = sorted(out.glob("*.h5"))
    assert len(files) == 3 and "wrote 3" in capsys.readouterr().out
    cand, ft, _, attrs = read_fetch_h5(files[0])
    assert "tcand" in attrs and "dm" in attrs and ft.shape == (256, 256)

    assert main(["import-h5", "-w", str(tmp_path / "ws2"), *map(str, files),
                 "--no-progress"]) == 0
    assert "3 imported" in capsys.readouterr().out
    with Workspace.open(tmp_path / "ws") as a, Workspace.open(tmp_path / "ws2") as b:
        ra = {r.key(): r for r in a.candidates()}
        rb = {r.key(): r for r in b.candidates()}
        assert ra.keys() == rb.keys()
        for k, x in ra.items():
            y = rb[k]
            assert (x.tcand, x.dm, x.width, x.snr, x.label, x.padded) == \
                   (y.tcand, y.dm, y.width, y.snr, y.label, y.padded)
            assert y.origin.startswith("fetch_h5:")
            fa, da = a.images([x.row])
            fb, db_ = b.images([y.row])
            np.testing.assert_array_equal(fa, fb)
            np.testing.assert_array_equal(da, db_)

    # importing again adds nothing and succeeds; junk alone fails with exit 2
    assert main(["import-h5", "-w", str(tmp_path / "ws2"), *map(str, files),
                 "--no-progress"]) == 0
    assert "0 imported, 3 already" in capsys.readouterr().out
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    assert main(["import-h5", "-w", str(tmp_path / "ws2"), str(junk), "--no-progress"]) == 2
    assert "none of the 1 file(s)" in capsys.readouterr().err
