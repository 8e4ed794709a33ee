"""Nightly job throughput: data files per minute through the ingest stage (hash, search or
candidate list, images on the workers; appends by the one writer), with the work in this
process (no Dask) and on a Dask ``LocalCluster`` of 1 and 2 worker processes.

Simulates ``--files`` CHIME-like observations (256 channels, ``--minutes`` each) into an
inbox, then runs :func:`frbtriage.nightly.run_nightly` on a fresh workspace per setting
(``--retrain never``). By default the files are searched (no candidate list beside them), as
raw data arriving at night would be; ``--lists`` puts each simulation's candidate list
beside its file instead (image making only). The ingest time includes starting the cluster
and each worker's first (cached) Numba load, as a cron run pays them. Writes
``benchmarks/results/nightly.json`` and ``nightly.md``.

    python benchmarks/bench_nightly.py [--files 4] [--minutes 0.1] [--workers 0 1 2] [--lists]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

from frbtriage.nightly import NightlyOptions, run_nightly

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


def measure(root: Path, inbox: Path, workers: int) -> dict:
    """One run on a fresh workspace with ``workers`` (0: in this process)."""
    ws = root / f"ws_{workers}"
    res = run_nightly(ws, inbox, NightlyOptions(workers=workers, retrain="never"))
    ingest = res.timings["ingest"]
    return {"workers": workers, "executor": res.executor, "files": len(res.files),
            "candidates": len(res.added_ids), "ingest_s": round(ingest, 2),
            "files_per_min": round(60.0 * len(res.files) / ingest, 2),
            "worker_seconds": {k: round(v, 2) for k, v in res.timings.items()
                               if k.startswith("worker_")},
            "score_s": round(res.timings["score"], 2)}


def main() -> None:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=0.1)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lists", action="store_true", help="candidate lists beside the files")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_nightly_") as tmp:
        root = Path(tmp)
        inbox = make_inbox(root, args.files, args.minutes, args.lists)
        rows = [measure(root, inbox, w) for w in args.workers]
    out = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "load_avg_1min": os.getloadavg()[0]},
           "files": args.files, "minutes_per_file": args.minutes, "nchan": 256,
           "candidates_from": "lists beside the files" if args.lists else "search",
           "runs": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nightly.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [f"# Nightly ingest throughput ({args.files} files x {args.minutes} min, 256 ch, "
             f"candidates from {out['candidates_from']}; {os.cpu_count()} CPUs, load "
             f"{out['machine']['load_avg_1min']:.1f})", "",
             "| executor | files | candidates | ingest s | files/min | worker s (search/images) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ws_ = r["worker_seconds"]
        lines.append(f"| {r['executor']} | {r['files']} | {r['candidates']} | {r['ingest_s']} | "
                     f"{r['files_per_min']} | {ws_.get('worker_candidates', 0)} / "
                     f"{ws_.get('worker_images', 0)} |")
    (RESULTS / "nightly.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
