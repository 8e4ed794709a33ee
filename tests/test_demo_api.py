"""``frbtriage.demo.run_demo`` from Python: the stages reported in order, a result that is
what ``ranked.csv`` holds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from frbtriage.demo import DemoConfig, DemoProgress, run_demo


class Recorder(DemoProgress):
    """Remembers which hooks ran, in order (inherits the do-nothing ones)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def observed(self, obs) -> None:  # noqa: ANN001
        self.calls.append("observed")

    def searched(self, search) -> None:  # noqa: ANN001
        self.calls.append("searched")

    def prepared(self, summary) -> None:  # noqa: ANN001
        self.calls.append("prepared")


@pytest.mark.slow
def test_run_demo_result_and_stages(tmp_path: Path, samples_dir: Path) -> None:
    rec = Recorder()
    result = run_demo(tmp_path / "demo", DemoConfig(sample=samples_dir / "chime_sim"), rec)
    assert rec.calls == ["observed", "searched", "prepared"]
    assert not result.observation.simulated
    assert len(result.search.burst_hits) == len(result.observation.bursts) > 0
    assert result.prepare.prepared == len(result.ranked) > 0
    p = [row.score.p_astro for row in result.ranked]
    assert p == sorted(p, reverse=True)
    with open(result.ranked_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["truth"] for r in rows] == [row.truth for row in result.ranked]
    assert {r.score.model_version for r in result.ranked} == {result.model_version}
