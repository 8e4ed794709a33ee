"""The researcher notebooks (``notebooks/``) run top to bottom on a small scored workspace
with votes, through nbclient and an ipykernel of this interpreter; and the committed copies
carry no outputs."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("inspect_candidates.ipynb", "model_performance.ipynb")
#: Seconds a cell may run (the first imports torch and numba on a busy machine).
CELL_TIMEOUT = 300


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_have_no_outputs(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_active_curves_missing_or_malformed(tmp_path: Path) -> None:
    from frbtriage.errors import InputError
    from frbtriage.research import active_curves

    assert active_curves(tmp_path / "active.json") is None
    (tmp_path / "active.json").write_text('{"summary": {}}')
    with pytest.raises(InputError, match="not an active-learning benchmark result"):
        active_curves(tmp_path / "active.json")


@pytest.fixture(scope="module")
def voted_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short simulation prepared (the list's labels kept for two thirds of the candidates)
    and scored by the shipped model; three volunteers voted on every candidate (one always
    right, one wrong on every third, one always "RFI") and the votes aggregated."""
    from frbtriage.crowd.consensus import aggregate
    from frbtriage.crowd.volunteers import add_volunteer
    from frbtriage.crowd.votes import submit_vote
    from frbtriage.io.candidates import read_candidates
    from frbtriage.model.predict import score_workspace
    from frbtriage.model.registry import live_model
    from frbtriage.prepare import prepare_candidates
    from frbtriage.simulate import simulate_observation
    from frbtriage.workspace import Workspace

    root = tmp_path_factory.mktemp("notebooks")
    sim = simulate_observation(root / "sim", minutes=0.1, nchan=256, seed=3, n_bursts=3)
    cands = read_candidates(sim.candidates_path)
    truth = {(c.tcand, c.dm): c.label for c in cands}
    cands = [c if i % 3 else dataclasses.replace(c, label=None) for i, c in enumerate(cands)]
    with Workspace.create(root / "ws") as ws:
        prepare_candidates(ws, cands, progress=False)
        score_workspace(ws, live_model(ws))
        people = [add_volunteer(ws, name)[0].id for name in ("ada", "bo", "cy")]
        for k, rec in enumerate(ws.candidates()):
            right = "astro" if truth[(rec.tcand, rec.dm)] == 1 else "rfi"
            wrong = "rfi" if right == "astro" else "astro"
            for vid, answer in zip(people, (right, wrong if k % 3 == 0 else right, "rfi"),
                                   strict=True):
                submit_vote(ws, vid, rec.id, answer)
        aggregate(ws)
    return root / "ws"


def execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            env: dict[str, str]) -> Any:
    """Run notebook ``name`` in a kernel of this interpreter (a ``python3`` kernel spec in a
    temporary ``JUPYTER_PATH``, found before any the user registered) with ``env`` set;
    returns the executed notebook."""
    from nbclient import NotebookClient

    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(book, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return book


def outputs(book: Any) -> tuple[str, int]:
    """All text the notebook printed or displayed, and the number of PNG images it showed."""
    text, pngs = [], 0
    for cell in book.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", ""))
            data = out.get("data", {})
            text.append(data.get("text/plain", ""))
            pngs += "image/png" in data
    return "\n".join(text), pngs


@pytest.mark.slow
def test_inspect_candidates(voted_workspace: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    book = execute("inspect_candidates.ipynb", tmp_path, monkeypatch,
                   {"FRBTRIAGE_WORKSPACE": str(voted_workspace), "FRBTRIAGE_OUTPUT": str(out)})
    text, pngs = outputs(book)
    assert pngs == 8, text  # TOP = 4 best and 4 most uncertain
    assert "no votes" not in text
    with open(out / "selection" / "selection.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert 4 <= len(rows) <= 8
    assert len(list((out / "selection" / "h5").glob("*.h5"))) == len(rows)
    assert (out / "selection" / "table.csv").is_file()


@pytest.mark.slow
def test_model_performance(voted_workspace: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    active = tmp_path / "active.json"
    curve = {"votes": [0, 10, 20], "auc_mean": [0.8, 0.85, 0.9], "auc_sd": [0, 0.01, 0.02]}
    active.write_text(json.dumps({"summary": {"curves": {"bald": curve, "random": curve}}}))
    book = execute("model_performance.ipynb", tmp_path, monkeypatch,
                   {"FRBTRIAGE_WORKSPACE": str(voted_workspace),
                    "FRBTRIAGE_ACTIVE_JSON": str(active)})
    text, pngs = outputs(book)
    assert pngs == 3, text  # ROC + reliability, volunteers, active learning
    assert "AUC" in text and "ECE" in text and "cy" in text and "no votes" not in text
