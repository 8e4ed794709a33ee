"""``benchmarks/bench_lofo.py``: the training candidates' families, bad input, and a tiny
end-to-end run (slow). The numbers it measures are reported, not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from frbtriage.cli import main

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_lofo.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=1800)


def test_bad_input_one_line(tmp_path: Path) -> None:
    for args, says in ((["--train-ws", str(tmp_path)], "is not a workspace"),
                       (["--train-ws", str(tmp_path), "--families", "microwave"],
                        "unknown families")):
        proc = _run(*args)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_tiny_run_holds_out_a_family(tmp_path: Path) -> None:
    """A two-observation training workspace with every family, one family held out, one
    epoch: each held-out candidate's family is found from the truth tables, three models
    score bench_families' observations, and the table says so."""
    ws = tmp_path / "ws"
    assert main(["train", "-w", str(ws), "-o", str(tmp_path / "m"), "--simulate", "2",
                 "--sim-minutes", "0.25", "--eval-simulate", "0", "--epochs", "1",
                 "--members", "2", "--threads", "1", "--families", "all",
                 "--family-rate", "24"]) == 0
    sys.path.insert(0, str(SCRIPT.parent))
    import bench_lofo

    from frbtriage.workspace import Workspace

    with Workspace.open(ws) as w:
        fams = bench_lofo.training_families(w)
        n_labelled = sum(1 for r in w.candidates() if r.label is not None)
    assert len(fams) == n_labelled, "every labelled training candidate has its family"
    assert "chirp_linear" in fams.values() and "burst" in fams.values()
    proc = _run("--train-ws", str(ws), "--families", "chirp_linear", "--epochs", "1",
                "--standard-obs", "1", "--minutes", "0.1", "--family-rate", "20",
                "--threads", "1", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "lofo.json").read_text())
    (row,) = doc["families"]
    assert row["family"] == "chirp_linear" and not row["burst"]
    assert row["without"]["n"] == row["with"]["n"] == row["shipped"]["n"] > 0
    assert "| chirp_linear (not a burst) |" in (tmp_path / "out" / "lofo.md").read_text()
