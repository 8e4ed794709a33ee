"""The model registry and retraining behind the gate, on a small synthetic workspace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from frbtriage import db
from frbtriage.errors import InputError
from frbtriage.model.config import ModelConfig, save_model
from frbtriage.model.network import Architecture, EnsembleCNN
from frbtriage.model.registry import (
    gate,
    list_models,
    live_info,
    live_model,
    promote,
    register,
    rollback,
)
from frbtriage.model.retrain import RetrainConfig, in_fraction, retrain
from frbtriage.workspace import NewCandidate, Workspace

ARCH = Architecture(members=2)


def synthetic_images(astro: np.ndarray, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 256, 256)`` ft/dmt: a burst is a bright vertical streak in ft and an X in dmt;
    anything else a bright horizontal line in ft (narrowband RFI) and a flat dmt."""
    n = len(astro)
    ft = rng.standard_normal((n, 256, 256), dtype=np.float32)
    dmt = rng.standard_normal((n, 256, 256), dtype=np.float32)
    rows = np.arange(256)
    for i, a in enumerate(astro):
        if a:
            ft[i, :, 124:132] += 2.0
            dmt[i, rows, np.clip(128 + (rows - 128) // 2, 0, 255)] += 4.0
            dmt[i, rows, np.clip(128 - (rows - 128) // 2, 0, 255)] += 4.0
        else:
            r = rng.integers(20, 236)
            ft[i, r - 3:r + 3, :] += 3.0
    return ft, dmt


def random_model(folder: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    return save_model(EnsembleCNN(ARCH).eval(), ModelConfig(architecture=ARCH), folder)


@pytest.fixture()
def ws(tmp_path: Path):
    """240 candidates: 100 with simulation labels, 30 expert (gold), 80 voted only, 30 none;
    a random (untrained) 2-member model registered live."""
    rng = np.random.default_rng(0)
    n = 240
    astro = rng.random(n) < 0.4
    ft, dmt = synthetic_images(astro, rng)
    w = Workspace.create(tmp_path / "ws")
    ids = w.append([NewCandidate("/d/syn.fil", 1.0 + i, 100.0, 4, 9.0,
                                 label=int(astro[i]) if i < 100 else None,
                                 label_source="simulation") for i in range(n)], ft, dmt)
    with w.session() as s, s.begin():
        db.set_labels(s, "expert", ids[100:130], astro[100:130].astype(float), ref="ada")
        p_votes = np.where(astro[130:210], 0.9, 0.1)
        db.set_labels(s, "votes", ids[130:210], p_votes, np.full(80, 4.0), ref="ds")
    register(w, random_model(tmp_path / "random"), status="current")
    yield w
    w.close()


def test_gate_rules() -> None:
    live = {"roc_auc": 0.95, "ece": 0.05}
    assert gate({"roc_auc": 0.96, "ece": 0.05}, live).promote
    assert gate({"roc_auc": 0.95, "ece": 0.04}, live).promote
    assert not gate({"roc_auc": 0.97, "ece": 0.06}, live).promote  # better AUC, worse ECE
    assert not gate({"roc_auc": 0.94, "ece": 0.01}, live).promote
    assert not gate(dict(live), live).promote  # equal is not better
    assert not gate({"roc_auc": float("nan"), "ece": 0.0}, live).promote


def test_split_is_fixed_by_id() -> None:
    ids = np.arange(1, 10_001)
    sel = in_fraction(ids, 0.2)
    assert 0.18 < sel.mean() < 0.22
    np.testing.assert_array_equal(in_fraction(ids[5000:], 0.2), sel[5000:])


@pytest.mark.slow
def test_retrain_promotes_a_better_model_and_refuses_a_worse(ws: Workspace) -> None:
    first = live_info(ws)
    res = retrain(ws, RetrainConfig(epochs=15, lr=5e-3, seed=1))
    assert res.decision.promote, res.decision.reason
    assert res.candidate_metrics["roc_auc"] > 0.95 > res.live_metrics["roc_auc"]
    assert res.counts == {"known": 100, "gold": 30, "voted": 80, "train": res.counts["train"],
                          "calibration": res.counts["calibration"],
                          "evaluation": res.counts["evaluation"]}
    assert res.counts["train"] + res.counts["calibration"] + res.counts["evaluation"] == 210
    live = live_info(ws)
    assert live.version == res.candidate.version and live.parent == first.version
    assert live.training["counts"]["gold"] == 30 and len(live.training["train_ids_sha256"]) == 64
    assert Path(live.path).parent == ws.path / "models"
    assert live_model(ws).version == live.version
    # a diverging fine-tune (absurd learning rate) is worse and must not replace it
    bad = retrain(ws, RetrainConfig(epochs=3, lr=50.0, seed=2))
    assert not bad.decision.promote and bad.candidate.status == "rejected"
    assert live_info(ws).version == live.version
    statuses = {m.version: m.status for m in list_models(ws)}
    assert statuses == {first.version: "retired", live.version: "current",
                        bad.candidate.version: "rejected"}
    assert rollback(ws).version == first.version  # back to the parent
    assert promote(ws, live.version).status == "current"


def test_promote_refuses_tampered_weights_and_unknown_versions(ws: Workspace,
                                                               tmp_path: Path) -> None:
    other = register(ws, random_model(tmp_path / "other", seed=5))
    (Path(other.path) / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="do not match the SHA-256"):
        promote(ws, other.version)
    with pytest.raises(InputError, match="no model version 'nope'"):
        promote(ws, "nope")


def test_retrain_needs_an_evaluation_set(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ft, dmt = synthetic_images(np.zeros(10, bool), rng)
    with Workspace.create(tmp_path / "ws") as w:
        w.append([NewCandidate("/d/x.fil", 1.0 + i, 50.0, 2, 8.0, label=0)
                  for i in range(10)], ft, dmt)
        register(w, random_model(tmp_path / "m"), status="current")
        with pytest.raises(InputError, match="retraining needs at least 5 of each"):
            retrain(w)


def test_models_and_retrain_verbs(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from frbtriage import cli

    assert cli.main(["models", "-w", str(ws.path)]) == 0
    out = capsys.readouterr().out
    assert "current" in out and "1 model version(s)" in out
    assert cli.main(["models", "promote", "nope", "-w", str(ws.path)]) == 2
    assert "no model version 'nope'" in capsys.readouterr().err
    assert cli.main(["retrain", "-w", str(ws.path), "--epochs", "1", "--lr", "-1"]) == 2
    assert "lr > 0" in capsys.readouterr().err
