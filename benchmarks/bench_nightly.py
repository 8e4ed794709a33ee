"""Nightly job throughput: data files per minute through the ingest stage (hash, search or
candidate list, images on the workers; appends by the one writer), in this process (no
Dask) and on a Dask ``LocalCluster`` of 1 and 2 worker processes, in one run.

Simulates ``--files`` CHIME-like observations (256 channels, ``--minutes`` each) into an
inbox, then runs :func:`frbtriage.nightly.run_nightly` on a fresh workspace per setting
(``--retrain never``). By default the files are searched to DM 2000 (no candidate list
beside them), as raw data arriving at night would be; ``--lists`` puts each simulation's
candidate list beside its file instead (image making only).

``--threads N`` (default 1) sets ``NUMBA_NUM_THREADS=N`` for the whole run, so every setting
gets the same threads per process: in this process ``N``, each of ``W`` LocalCluster workers
``max(1, N // W)`` (the job's own rule, :func:`frbtriage.nightly.cluster.local_worker_env`);
with 1, one worker and the in-process run use 1 thread and 2 workers 2 in all, which is the
scaling question of issue 11. ``--threads 0`` leaves Numba's default (every core).

Timed apart, as the job's ``timings`` has them: ``start`` (the cluster started, every worker
warmed up: imports and the first, cached, Numba load), ``ingest`` (first file submitted to
last file stored; ``store`` of it is this process appending), ``stop``. ``files/min`` is
``files / ingest``; ``with start`` is ``files / (start + ingest + stop)``, what one cron run
of this many files pays. ``cores used`` is the CPU time of this process and its worker
processes over the run's wall time: on a shared machine it shows how much of the 2 cores the
run got; ``files per CPU-min`` divides out how much CPU the run was given. The 1-minute
load average is recorded before and after each setting. ``--order`` repeats settings (e.g.
``0 1 2 2 1 0``) to see how much the others' load moves the numbers.

On a Linux machine with ``sched_autogroup_enabled = 1`` (recorded) the kernel first shares
the CPU fairly between *sessions*, then among a session's threads: while other sessions keep
the cores busy, a second worker process of the same session gets no more CPU than one, and
files/min cannot grow with workers; files per CPU-min then says what the workers would do
with cores of their own.

    python benchmarks/bench_nightly.py [--files 8] [--minutes 0.5] [--order 0 1 2] [--threads 1]
    python benchmarks/bench_nightly.py --render     # nightly.md again from nightly.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def make_inbox(root: Path, files: int, minutes: float, lists: bool) -> Path:
    """``files`` simulated observations ``obsN.fil`` in ``root/inbox`` (with ``obsN.csv``
    beside each when ``lists``)."""
    from frbtriage.io.candidates import read_candidates, write_fetch_csv
    from frbtriage.simulate import simulate_observation

    inbox = root / "inbox"
    inbox.mkdir()
    for seed in range(1, files + 1):
        sim = simulate_observation(root / f"sim{seed}", minutes=minutes, nchan=256, seed=seed,
                                   n_bursts=2, dm_range=(50, 300))
        fil = inbox / f"obs{seed}.fil"
        shutil.copy(sim.fil_path, fil)
        if lists:
            write_fetch_csv(inbox / f"obs{seed}.csv",
                            [dataclasses.replace(c, file=str(fil))
                             for c in read_candidates(sim.candidates_path)])
    return inbox


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(root: Path, inbox: Path, workers: int, run: int) -> dict:
    """One run on a fresh workspace with ``workers`` (0: in this process)."""
    from frbtriage.nightly import NightlyOptions, run_nightly

    ws = root / f"ws_{run}_{workers}"
    load_before = os.getloadavg()[0]
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    res = run_nightly(ws, inbox, NightlyOptions(workers=workers, retrain="never"))
    cpu, whole = _cpu_seconds() - cpu0, time.perf_counter() - wall0
    t = res.timings
    wall = t["start"] + t["ingest"] + t["stop"]
    n = len(res.files)
    assert res.exit_code == 0 and n == len(res.with_status("processed")), res.files
    row = {"workers": workers, "executor": res.executor, "files": n,
           "threads_per_file": sorted({f.threads for f in res.files}),
           "candidates": len(res.added_ids),
           "start_s": round(t["start"], 2), "ingest_s": round(t["ingest"], 2),
           "store_s": round(t.get("store", 0.0), 2), "stop_s": round(t["stop"], 2),
           "files_per_min": round(60.0 * n / t["ingest"], 2),
           "files_per_min_with_start": round(60.0 * n / wall, 2),
           "warm_up_s": [round(w.seconds, 2) for w in res.warm_up],
           "worker_seconds": {k: round(v, 2) for k, v in t.items() if k.startswith("worker_")},
           "score_s": round(t["score"], 2),
           # CPU of the whole run_nightly call (scoring, report included) over its wall time
           "cores_used": round(cpu / whole, 2), "run_s": round(whole, 2),
           "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
    print(json.dumps(row), flush=True)
    return row


def _summary(rows: list[dict]) -> dict[int, dict[str, float]]:
    """Median files/min per worker count over the repeats."""
    out: dict[int, dict[str, float]] = {}
    for w in sorted({r["workers"] for r in rows}):
        mine = [r for r in rows if r["workers"] == w]
        out[w] = {"files_per_min": statistics.median(r["files_per_min"] for r in mine),
                  "files_per_min_with_start": statistics.median(
                      r["files_per_min_with_start"] for r in mine),
                  "runs": len(mine)}
    return out


def _autogroup() -> str:
    """``/proc/sys/kernel/sched_autogroup_enabled`` ("1": the kernel shares the CPU between
    sessions first, then between their threads), or "unknown"."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return "unknown"


def render(out: dict) -> list[str]:
    """``nightly.md``'s lines from the results ``out`` (as in ``nightly.json``)."""
    rows, summary = out["runs"], out["median_by_workers"]
    m = out["machine"]
    lines = [f"# Nightly ingest throughput ({out['files']} files x {out['minutes_per_file']} "
             f"min, 256 ch, candidates from {out['candidates_from']}; NUMBA_NUM_THREADS="
             f"{out['numba_num_threads']}; {m['cpus']} CPUs, shared; sched_autogroup_enabled="
             f"{m.get('sched_autogroup_enabled', 'not recorded')})", "",
             "| # | executor | Numba threads per file | start s | ingest s (store) | "
             "files/min | files/min with start | cores used | files per CPU-min | "
             "worker s search / images (CPU s) | load before/after |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows):
        ws_ = r["worker_seconds"]
        cpu = ws_.get("worker_cpu", 0)
        per_cpu = round(60.0 * r["files"] / cpu, 2) if cpu else "-"
        lines.append(
            f"| {i} | {r['executor']} | {'/'.join(map(str, r['threads_per_file']))} | "
            f"{r['start_s']} | {r['ingest_s']} ({r['store_s']}) | **{r['files_per_min']}** | "
            f"{r['files_per_min_with_start']} | {r['cores_used']} | {per_cpu} | "
            f"{ws_.get('worker_candidates', 0)} / {ws_.get('worker_images', 0)} ({cpu}) | "
            f"{r['load_before']} / {r['load_after']} |")
    lines += ["", "Median files/min by workers (0 = in this process): " + ", ".join(
        f"{k}: {v['files_per_min']:.1f} ({v['runs']} run(s))" for k, v in summary.items()),
        f"2 workers vs 1: **{out['speed_up_2_vs_1_worker']}x**; whole benchmark "
        f"{out['wall_s']} s.",
        "", "files per CPU-min: files / the CPU seconds the files took on the workers (all "
        "threads of the worker process while it had the file); cores used: CPU of the whole "
        "run (start, files, scoring, report) / its wall time."]
    return lines


def main() -> None:
    """Run the benchmark and write the results (``--render``: only rewrite ``nightly.md``
    from ``nightly.json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=0.5)
    ap.add_argument("--order", type=int, nargs="+", default=[0, 1, 2],
                    help="worker counts in the order run (0: in this process); repeats allowed")
    ap.add_argument("--threads", type=int, default=1,
                    help="NUMBA_NUM_THREADS for the run (0: Numba's default, every core)")
    ap.add_argument("--lists", action="store_true", help="candidate lists beside the files")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: rewrite nightly.md from nightly.json")
    args = ap.parse_args()
    if args.render:
        out = json.loads((RESULTS / "nightly.json").read_text())
    else:
        out = measure_all(args)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "nightly.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = render(out)
    (RESULTS / "nightly.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def measure_all(args: argparse.Namespace) -> dict:
    """Every setting of ``args.order`` on one simulated inbox; the results as JSON data."""
    if args.threads > 0:  # before anything imports Numba; the workers inherit it
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import numba

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_nightly_") as tmp:
        root = Path(tmp)
        inbox = make_inbox(root, args.files, args.minutes, args.lists)
        rows = [measure(root, inbox, w, i) for i, w in enumerate(args.order)]
    summary = _summary(rows)
    base = summary.get(1, {}).get("files_per_min")
    return {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
                        "sched_autogroup_enabled": _autogroup()},
            "numba_num_threads": int(numba.config.NUMBA_NUM_THREADS),
            "files": args.files, "minutes_per_file": args.minutes, "nchan": 256,
            "candidates_from": "lists beside the files" if args.lists else "search to DM 2000",
            "wall_s": round(time.perf_counter() - t0, 1), "runs": rows,
            "median_by_workers": {str(k): v for k, v in summary.items()},
            "speed_up_2_vs_1_worker": (round(summary[2]["files_per_min"] / base, 2)
                                       if base and 2 in summary else None)}


if __name__ == "__main__":
    main()
