"""``frbtriage demo``'s nightly stage (:func:`frbtriage.demo.run_demo_nightly`): the nightly
job on the demo's inbox stores nothing twice, fills the queue and writes the report; the
printed token signs in to the app, and a re-run replaces it."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from frbtriage import cli
from frbtriage.crowd.volunteers import authenticate
from frbtriage.demo import VOLUNTEER, run_demo_nightly
from frbtriage.errors import InputError
from frbtriage.workspace import Workspace


@pytest.mark.slow
def test_demo_runs_the_nightly_job_and_prints_how_to_open_the_app(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--simulate", "--minutes", "0.1"]) == 0
    printed = capsys.readouterr().out
    with open(out / "ranked.csv", newline="") as fh:
        ranked = list(csv.DictReader(fh))
    assert re.search(rf"1 data file\(s\) \(0 candidates added, {len(ranked)} already stored\)",
                     printed), printed
    report = next(Path(m) for m in re.findall(r"report: (\S+)", printed))
    assert report.name == "index.html" and report.parent.parent == out / "workspace" / "reports"
    assert report.is_file()
    command = f"app --workspace {(out / 'workspace').resolve()}"
    assert command in printed
    token = re.search(rf"sign in as {VOLUNTEER} with the token (\S+)", printed).group(1)
    with Workspace.open(out / "workspace") as ws:
        assert len(ws.candidates()) == len(ranked)  # the nightly job stored nothing twice
        assert authenticate(ws, token).name == VOLUNTEER

    again = run_demo_nightly(out)
    assert again.result.unchanged == 1 and not again.result.files
    assert again.token != token and again.app_command.endswith(command)
    with Workspace.open(out / "workspace") as ws:
        assert authenticate(ws, again.token).name == VOLUNTEER
        with pytest.raises(InputError, match="sign-in refused"):
            authenticate(ws, token)
