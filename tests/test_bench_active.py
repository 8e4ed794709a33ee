"""Smoke test of ``benchmarks/bench_active.py``: its ``--quick`` mode runs the whole crowd loop
(queue, simulated votes, aggregation, retraining behind the gate, re-scoring) end to end and
writes the curves of the three strategies. The benchmark's targets are reported, not
asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_active.py"


@pytest.mark.slow
def test_quick_run_writes_the_three_curves(tmp_path: Path) -> None:
    assert "--votes-per-candidate" in subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], check=True, capture_output=True,
        text=True).stdout
    subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=1200)
    doc = json.loads((tmp_path / "active.json").read_text())
    rounds = doc["settings"]["rounds"]
    curves = doc["summary"]["curves"]
    assert set(curves) == {"bald", "entropy", "random"}
    for c in curves.values():
        assert len(c["votes"]) == len(c["auc_mean"]) == len(c["auc_sd"]) == rounds + 1
        assert c["votes"][0] == 0 and all(0.0 <= a <= 1.0 for a in c["auc_mean"])
        assert len(c["auc_per_seed"]) == doc["settings"]["seeds"]
    assert {"bald", "entropy", "random_final_auc"} <= set(doc["summary"]["headline"])
    assert {"dawid_skene", "majority"} <= set(doc["summary"]["label_accuracy"])
    assert len(doc["runs"]) == 3 * doc["settings"]["seeds"]
    assert (tmp_path / "active.png").stat().st_size > 0
    assert "Headline" in (tmp_path / "active.md").read_text()
