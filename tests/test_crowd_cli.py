"""The crowd verbs: volunteer, queue, labels, volunteers — parse, call the API, print."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_crowd_store import MODEL, make_workspace

from frbtriage import cli
from frbtriage.crowd.volunteers import authenticate
from frbtriage.crowd.votes import submit_vote
from frbtriage.queue import next_candidate
from frbtriage.workspace import Workspace


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_volunteer_queue_labels_volunteers(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ws_path = tmp_path / "ws"
    make_workspace(ws_path, n=60).close()
    code, out, _ = run(capsys, "volunteer", "add", "ada", "--workspace", str(ws_path),
                       "--role", "researcher")
    token = out.strip().splitlines()[-1]
    assert code == 0 and "shown only now" in out
    with Workspace.open(ws_path) as ws:
        assert authenticate(ws, token).role == "researcher"
    for name in ("bob", "cy"):
        run(capsys, "volunteer", "add", name, "-w", str(ws_path))
    code, out, _ = run(capsys, "volunteer", "list", "-w", str(ws_path))
    assert code == 0 and "3 volunteer(s)" in out and token not in out
    code, out, _ = run(capsys, "queue", "-w", str(ws_path), "--size", "20",
                       "--strategy", "entropy", "--gold-fraction", "0.1")
    assert code == 0 and "16 entropy, 2 gold, 2 random" in out and MODEL in out
    with Workspace.open(ws_path) as ws:
        for vid in (1, 2, 3):
            for _ in range(20):
                cid = next_candidate(ws, vid)
                submit_vote(ws, vid, cid, "astro" if cid % 4 == 0 else "rfi")
    code, out, _ = run(capsys, "labels", "-w", str(ws_path), "-o", str(tmp_path / "l.csv"))
    assert code == 0 and "60 votes on 20 candidates by 3 volunteers" in out
    rows = list(csv.DictReader(open(tmp_path / "l.csv")))
    assert len(rows) == 20 and {"candidate_id", "file", "stime", "dm", "width", "snr",
                                "p_astro_votes", "label_votes"} <= set(rows[0])
    code, out, _ = run(capsys, "volunteers", "-w", str(ws_path), "-o", str(tmp_path / "v.csv"))
    people = list(csv.DictReader(open(tmp_path / "v.csv")))
    assert code == 0 and [p["name"] for p in people] == ["ada", "bob", "cy"]
    assert all(int(p["votes"]) == 20 for p in people)
    code, out, _ = run(capsys, "volunteer", "disable", "bob", "-w", str(ws_path))
    assert code == 0 and "disabled" in out


@pytest.mark.parametrize(("argv", "match"), [
    (["volunteer", "add"], "needs a NAME"),
    (["volunteer", "disable", "nobody"], "no volunteer named 'nobody'"),
    (["queue", "--size", "0"], "queue size must be >= 1"),
    (["queue", "--gold-fraction", "0.8", "--random-fraction", "0.5"], "add up"),
    (["labels", "-o", "/nonexistent-dir/x.csv"], "does not exist"),
])
def test_bad_crowd_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     argv: list[str], match: str) -> None:
    make_workspace(tmp_path / "ws", n=5).close()
    code, out, err = run(capsys, *argv, "-w", str(tmp_path / "ws"))
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1


def test_labels_without_votes_is_one_line(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    make_workspace(tmp_path / "ws", n=5).close()
    code, _, err = run(capsys, "labels", "-w", str(tmp_path / "ws"), "-o",
                       str(tmp_path / "l.csv"))
    assert code == 2 and "no votes to aggregate yet" in err
    assert not (tmp_path / "l.csv").exists()
