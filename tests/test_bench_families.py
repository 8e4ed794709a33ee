"""``benchmarks/bench_families.py``: its per-family accounting on made-up scores (fast), and a
tiny end-to-end run (slow). The numbers it measures are reported, not asserted."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_families.py"


def _bench():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_families", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_families"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_per_family_numbers_and_the_veto_on_made_up_scores() -> None:
    bf = _bench()
    fam = np.array(["burst"] * 4 + ["noise_candidate"] * 4 + ["peryton"] * 4 + ["faint"] * 2)
    label = np.array([1] * 4 + [0] * 4 + [0] * 4 + [1] * 2)
    p = np.array([0.95, 0.9, 0.8, 0.99, 0.01, 0.02, 0.2, 0.05, 0.99, 0.95, 0.3, 0.92,
                  0.05, 0.6])
    std = np.r_[np.full(8, 0.01), np.full(4, 0.2), 0.3, 0.3]
    measured = np.array([1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1], bool)
    flagged = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1], bool)
    # the second peryton is flagged but measured too loosely to cap its score
    vetoed = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], bool)
    index = np.where(measured, 2.0, np.nan)
    sc = bf.Scored(fam, label, p, std, std / 2, index, measured, flagged, vetoed)
    summary = bf.summarise(sc)
    rows = {r["family"]: r for r in summary["families"]}
    per = rows["peryton"]
    assert per["n"] == 4 and not per["burst"] and not per["in_distribution"]
    assert per["confident_errors"] == pytest.approx(3 / 4)  # 0.99, 0.95, 0.92
    assert per["veto_confident_errors"] == pytest.approx(2 / 4)  # the vetoed 0.99 capped
    assert per["flagged"] == pytest.approx(2 / 4)
    assert per["bald_auroc_unseen"] == 1.0  # always less sure than the in-distribution ones
    assert per["auc"] == pytest.approx(_auc_of([0.95, 0.9, 0.8, 0.99], [0.99, 0.95, 0.3, 0.92]))
    assert rows["faint"]["confident_errors"] == pytest.approx(0.5)  # p 0.05 on a burst
    assert rows["rfi_drift"]["n"] == 0 and rows["rfi_drift"]["auc"] is None
    v = summary["veto"]
    assert v["imitator_confident_errors"] == 3 and v["imitator_confident_errors_after"] == 2
    assert v["bursts_flagged"] == 1 and v["bursts_lost_above_cap"] == 1
    assert v["bursts_lost_confident"] == 0
    doc = {"settings": {"obs_per_family": 1, "standard_obs": 1, "minutes": 0.1},
           "model": "m", "seconds": 1.0, "cpus": 2, "load_average_1_5_15min": [1.0, 1.0, 1.0],
           "summary": summary}
    md = bf.markdown(doc)
    assert "| peryton | no | 4 |" in md and "**Veto**" in md


def _auc_of(pos: list[float], neg: list[float]) -> float:
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.slow
def test_a_tiny_run_writes_every_family(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--obs-per-family", "1", "--standard-obs", "1",
                    "--minutes", "0.1", "--family-rate", "20", "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=1200)
    doc = json.loads((tmp_path / "families.json").read_text())
    names = [r["family"] for r in doc["summary"]["families"]]
    assert "peryton" in names and "drifting" in names and "burst" in names
    assert "Veto" in (tmp_path / "families.md").read_text()
