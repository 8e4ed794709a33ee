"""The nightly job: resumable, one run at a time, broken files skipped, a report.

Inboxes hold short simulated observations (256 channels x 6 s) with their candidate lists
beside them (``obsN.csv``), so that no test waits for a search except the one about it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from frbtriage.cli import main
from frbtriage.nightly import EXIT_BUSY, EXIT_SKIPPED, NightlyOptions, run_lock, run_nightly
from frbtriage.nightly.ledger import Ledger
from frbtriage.workspace import Workspace

SEEDS = (1, 2, 3, 4)
QUIET = NightlyOptions(workers=0, retrain="never")


@pytest.fixture(scope="module")
def sims(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Simulated observations by seed (folders with obs.fil and candidates.csv)."""
    from frbtriage.simulate import simulate_observation

    root = tmp_path_factory.mktemp("nightly_sims")
    return {s: simulate_observation(root / str(s), minutes=0.1, nchan=256, seed=s, n_bursts=2,
                                    dm_range=(50, 300)).out_dir for s in SEEDS}


def make_inbox(folder: Path, sims: dict[int, Path], seeds: tuple[int, ...] = SEEDS) -> Path:
    """``folder`` with ``obsN.fil`` + the list beside it ``obsN.csv`` for each seed."""
    from frbtriage.io.candidates import read_candidates, write_fetch_csv

    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        fil = folder / f"obs{s}.fil"
        shutil.copy(sims[s] / "obs.fil", fil)
        write_fetch_csv(folder / f"obs{s}.csv",
                        [dataclasses.replace(c, file=str(fil))
                         for c in read_candidates(sims[s] / "candidates.csv")])
    return folder


def state(ws_path: Path) -> dict[str, int]:
    """What a finished run leaves: candidates, distinct keys, zarr rows, scores, ledger."""
    with Workspace.open(ws_path) as ws:
        recs = ws.candidates()
        from frbtriage.research import scores_of

        out = {"candidates": len(recs), "keys": len({r.key() for r in recs}),
               "rows": int(max(ws.ft.shape[0], ws.dmt.shape[0])),
               "scored": len(scores_of(ws))}
        out["ledger"] = len(Ledger.load(ws).entries())
    return out


def test_twice_the_second_run_adds_nothing(tmp_path: Path, sims: dict[int, Path]) -> None:
    inbox = make_inbox(tmp_path / "inbox", sims, SEEDS[:2])
    ws = tmp_path / "ws"
    first = run_nightly(ws, inbox, QUIET)
    assert first.exit_code == 0
    assert len(first.with_status("processed")) == 2 and first.added_ids
    before = state(ws)
    assert before["candidates"] == before["keys"] == before["rows"] == before["scored"]
    second = run_nightly(ws, inbox, QUIET)
    assert second.exit_code == 0 and second.unchanged == 2 and not second.files
    assert state(ws) == before
    shutil.copy(inbox / "obs1.fil", inbox / "renamed.fil")  # same content, a new name
    third = run_nightly(ws, inbox, QUIET)
    assert [f.status for f in third.files] == ["known"] and state(ws) == before


def test_report_has_its_plots_and_facts(tmp_path: Path, sims: dict[int, Path]) -> None:
    inbox = make_inbox(tmp_path / "inbox", sims, SEEDS[:1])
    res = run_nightly(tmp_path / "ws", inbox, QUIET)
    page = (res.report_dir / "index.html").read_text()
    summary = json.loads((res.report_dir / "summary.json").read_text())
    assert res.report_dir.parent.name == "reports"
    assert page.count("data:image/png;base64,") == 1 + len(summary["top_candidates"]) >= 2
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert summary["files"] == {"processed": 1, "known": 0, "failed": 0, "unchanged": 0}
    assert summary["candidates"]["added"] == sum(summary["p_astro_histogram"]["new"])
    assert summary["model"]["promoted"] is False and summary["model"]["live"]
    assert {"start", "ingest", "store", "stop", "score", "queue", "aggregate",
            "retrain"} <= set(summary["timings_s"])
    assert summary["timings_s"]["store"] <= summary["timings_s"]["ingest"]
    assert [w["error"] for w in summary["warm_up"]] == [""]
    assert summary["exit_code"] == 0


def test_in_process_files_use_this_threads_numba_setting(tmp_path: Path,
                                                           sims: dict[int, Path]) -> None:
    import numba

    inbox = make_inbox(tmp_path / "inbox", sims, SEEDS[:1])
    res = run_nightly(tmp_path / "ws", inbox, QUIET)
    assert [f.threads for f in res.files] == [numba.get_num_threads()]
    assert [w.threads for w in res.warm_up] == [numba.get_num_threads()]


@pytest.mark.parametrize(("numba_threads", "workers", "share"),
                         [(2, 1, "2"), (2, 2, "1"), (2, 3, "1"), (16, 4, "4"), (1, 2, "1")])
def test_local_workers_share_the_numba_threads(monkeypatch: pytest.MonkeyPatch,
                                               numba_threads: int, workers: int,
                                               share: str) -> None:
    """2 workers each running 2-thread kernels on 2 cores ran slower than one (issue 11)."""
    import numba

    from frbtriage.nightly.cluster import local_worker_env

    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", numba_threads)
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert local_worker_env(workers) == {"NUMBA_NUM_THREADS": share}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # e.g. taskset -c 0
    assert local_worker_env(workers) == {"NUMBA_NUM_THREADS": "1"}


def test_a_broken_file_is_named_and_skipped(tmp_path: Path, sims: dict[int, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    inbox = make_inbox(tmp_path / "inbox", sims, SEEDS[:1])
    data = (inbox / "obs1.fil").read_bytes()
    (inbox / "cut.fil").write_bytes(data[: len(data) // 2 + 3])  # truncated mid-spectrum
    (inbox / "junk.fil").write_bytes(b"not a filterbank at all")
    ws = tmp_path / "ws"
    code = main(["nightly", "-w", str(ws), "--inbox", str(inbox), "--workers", "0",
                 "--retrain", "never"])
    err = capsys.readouterr().err
    assert code == EXIT_SKIPPED
    for name in ("cut.fil", "junk.fil"):
        assert f"skipped {inbox / name}" in err
    summary = json.loads(next((ws / "reports").glob("*/summary.json")).read_text())
    assert sorted(Path(f["path"]).name for f in summary["failed"]) == ["cut.fil", "junk.fil"]
    assert summary["files"]["processed"] == 1
    assert state(ws)["ledger"] == 1  # failed files are retried next run


def test_bad_usage_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nightly", "-w", str(tmp_path / "ws"), "--inbox", str(tmp_path / "none"),
                 "--workers", "0"]) == 2
    assert "inbox is not a folder" in capsys.readouterr().err
    (tmp_path / "inbox").mkdir()
    Workspace.create(tmp_path / "ws2").close()
    with open(tmp_path / "ws2" / "frbtriage.toml", "a") as fh:
        fh.write("\n[nightly]\nretrain_min_new_label = 3\n")
    assert main(["nightly", "-w", str(tmp_path / "ws2"), "--inbox", str(tmp_path / "inbox"),
                 "--workers", "0"]) == 2
    assert "unknown [nightly] setting(s) retrain_min_new_label" in capsys.readouterr().err


def test_a_second_concurrent_run_is_refused(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "inbox").mkdir()
    ws = tmp_path / "ws"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom frbtriage.nightly import run_lock\n"
         f"with run_lock({str(ws)!r}):\n    print('held', flush=True)\n    time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = main(["nightly", "-w", str(ws), "--inbox", str(tmp_path / "inbox"),
                     "--workers", "0"])
        err = capsys.readouterr().err
        assert code == EXIT_BUSY
        assert "another nightly run holds the workspace lock" in err
        assert f"pid {holder.pid}" in err
        assert not (ws / "frbtriage.toml").exists()  # nothing changed
    finally:
        holder.kill()
        holder.wait()
    with run_lock(ws):  # the holder died, and its lock with it
        pass


def _nightly_process(ws: Path, inbox: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "frbtriage.cli", "nightly", "-w", str(ws),
                             "--inbox", str(inbox), "--workers", "0", "--retrain", "never"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _committed(ws: Path) -> int:
    db = ws / "triage.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return int(con.execute("SELECT count(*) FROM candidates").fetchone()[0])
    except sqlite3.Error:
        return 0


def _ledger_files(ws: Path) -> int:
    """Finished files recorded in the workspace database (read while a run is writing)."""
    try:
        with sqlite3.connect(f"file:{ws / 'triage.db'}?mode=ro", uri=True, timeout=1) as c:
            return int(c.execute("SELECT count(*) FROM data_files").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, sims: dict[int, Path]
              ) -> tuple[Path, dict[str, int]]:
    """An inbox of every seed and the state an uninterrupted run leaves."""
    root = tmp_path_factory.mktemp("nightly_ref")
    inbox = make_inbox(root / "inbox", sims)
    assert run_nightly(root / "ws", inbox, QUIET).exit_code == 0
    return inbox, state(root / "ws")


@pytest.mark.parametrize("kill_when", [
    pytest.param(lambda ws: _committed(ws) > 0, id="first-candidates-committed"),
    pytest.param(lambda ws: _ledger_files(ws) >= 2, id="two-files-in-the-ledger"),
])
def test_killed_run_resumes_without_duplicates(tmp_path: Path,
                                               reference: tuple[Path, dict[str, int]],
                                               kill_when: Callable[[Path], bool]) -> None:
    inbox, expected = reference
    ws = tmp_path / "ws"
    proc = _nightly_process(ws, inbox)
    deadline = time.monotonic() + 300
    while not kill_when(ws) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert _ledger_files(ws) < len(SEEDS)
    rerun = _nightly_process(ws, inbox)
    assert rerun.wait(timeout=300) == 0
    assert state(ws) == expected
    with Workspace.open(ws) as w:
        assert w.ft.shape[0] == w.dmt.shape[0] == len(w)


@pytest.mark.slow
def test_a_file_without_a_list_is_searched(tmp_path: Path, sims: dict[int, Path]) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(sims[1] / "obs.fil", inbox / "raw.fil")
    Workspace.create(tmp_path / "ws").close()
    with open(tmp_path / "ws" / "frbtriage.toml", "a") as fh:
        fh.write("\n[nightly]\ndm_max = 400.0\n")
    res = run_nightly(tmp_path / "ws", inbox, QUIET)
    assert res.exit_code == 0 and res.files[0].source == "search" and res.files[0].found > 0


@pytest.mark.slow
def test_dask_local_cluster_with_two_workers(tmp_path: Path,
                                             reference: tuple[Path, dict[str, int]]) -> None:
    inbox, expected = reference
    res = run_nightly(tmp_path / "ws", inbox, NightlyOptions(workers=2, retrain="never"))
    assert res.exit_code == 0 and "LocalCluster, 2 worker" in res.executor
    assert state(tmp_path / "ws") == expected
    workers = {f.worker for f in res.files}
    assert all(w.split(":")[1] != str(os.getpid()) for w in workers)  # not this process
    assert np.isfinite(res.timings["worker_images"])
    # each worker warmed up once before the files, and its kernels got half the threads
    import numba

    share = max(1, min(numba.config.NUMBA_NUM_THREADS, len(os.sched_getaffinity(0))) // 2)
    assert len({w.worker for w in res.warm_up}) == 2 and workers <= {w.worker for w in res.warm_up}
    assert {w.threads for w in res.warm_up} == {f.threads for f in res.files} == {share}
    assert all(not w.error for w in res.warm_up)
