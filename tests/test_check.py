"""``frbtriage check``: finds and repairs planted damage."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from frbtriage.check import check_workspace
from frbtriage.cli import main
from frbtriage.conventions import IMAGE_SHAPE
from frbtriage.workspace import NewCandidate, Workspace


def _workspace(path: Path, n: int = 3) -> Path:
    rng = np.random.default_rng(0)
    with Workspace.create(path) as ws:
        ws.append([NewCandidate(file="/data/a.fil", tcand=1.0 + i, dm=100.0, width=4, snr=9.0)
                   for i in range(n)],
                  rng.normal(size=(n, *IMAGE_SHAPE)).astype(np.float32),
                  rng.normal(size=(n, *IMAGE_SHAPE)).astype(np.float32))
    return path


def test_check_finds_and_repairs_orphans(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ws_path = _workspace(tmp_path / "ws")
    with Workspace.open(ws_path) as ws:  # an append killed after its zarr rows were written
        for arr in (ws.ft, ws.dmt):
            arr.resize((5, *IMAGE_SHAPE))
            arr[3:5] = np.ones((2, *IMAGE_SHAPE), np.float32)
    with sqlite3.connect(ws_path / "triage.db") as con:  # records of a vanished candidate
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("INSERT INTO models (version, path, sha256, status, metrics, created, "
                    "training) VALUES ('m', '', '', 'candidate', '{}', '2026-01-01', '{}')")
        con.execute("INSERT INTO scores VALUES (99, 'm', 0.5, 0.1, 0.2, '2026-01-01')")
    assert main(["check", "-w", str(ws_path)]) == 1
    out = capsys.readouterr().out
    assert "orphan-rows: 2 array rows beyond the 3" in out and "1 scores" in out
    assert "model-files: model m" in out  # registered without files
    with Workspace.open(ws_path) as ws:
        res = check_workspace(ws, repair=True)
        assert {p.kind for p in res.problems if p.repaired} == {"orphan-rows", "orphan-records"}
        assert ws.ft.shape[0] == ws.dmt.shape[0] == len(ws) == 3
        again = check_workspace(ws)
    assert [p.kind for p in again.problems] == ["model-files"]


def test_check_sees_a_model_whose_weights_changed(tmp_path: Path) -> None:
    from frbtriage.model.config import WEIGHTS_NAME, default_model_dir
    from frbtriage.model.registry import register

    ws_path = _workspace(tmp_path / "ws", 1)
    copy = tmp_path / "model"
    shutil.copytree(default_model_dir(), copy)
    with Workspace.open(ws_path) as ws:
        register(ws, copy)
        assert check_workspace(ws).ok
        with open(copy / WEIGHTS_NAME, "ab") as fh:
            fh.write(b"\0")
        res = check_workspace(ws, repair=True)
    assert not res.ok
    assert [p.kind for p in res.problems] == ["model-files"]
    assert "do not match the registered SHA-256" in res.problems[0].detail
