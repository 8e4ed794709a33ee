"""Scoring throughput of the shipped model: candidates per second, CPU (and CUDA when present).

Scores ``--n`` candidates of FETCH-sized images (256 x 256 ft and dmt, float32, in
memory) with :func:`frbtriage.model.predict.score_images`, i.e. the same batched path as
``frbtriage score`` minus the workspace reads: pooling, the whole ensemble, temperature
scaling, p_astro / p_std / BALD. The CPU runs use each of ``--threads`` torch thread counts
(default 1 and 2: the target is 2 cores; on a machine whose cores are busy with other work,
1 thread is often faster). The load average is recorded with the results. Writes
``benchmarks/results/score.json`` and ``score.md``.

    python benchmarks/bench_score.py [--n 4096] [--threads 1 2] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from frbtriage.model.config import load_model
from frbtriage.model.predict import score_images

RESULTS = Path(__file__).resolve().parent / "results"


def measure(model_dir: str | None, device: str, n: int, batch_size: int, repeats: int) -> dict:
    """Best-of-``repeats`` candidates/s for ``n`` random candidates on ``device``."""
    model = load_model(model_dir, device=device)
    rng = np.random.default_rng(0)
    ft = rng.standard_normal((n, 256, 256), dtype=np.float32)
    dmt = rng.standard_normal((n, 256, 256), dtype=np.float32)
    score_images(model, ft[:batch_size], dmt[:batch_size], device=device, workers=0)  # warm-up
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        s = score_images(model, ft, dmt, batch_size=batch_size, device=device,
                         workers=0 if device == "cpu" else None)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        assert len(s) == n and np.isfinite(s.p_astro).all()
    best = min(times)
    return {"device": device, "n": n, "batch_size": batch_size, "seconds": best,
            "candidates_per_s": n / best, "model_version": model.version,
            "device_name": (torch.cuda.get_device_name(torch.device(device))
                            if device.startswith("cuda") else platform.processor() or "cpu")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="candidates per run (default 4096)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                    help="torch CPU thread counts to measure (default 1 2)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    args = ap.parse_args()
    import os

    runs = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        runs.append(measure(args.model, "cpu", args.n, args.batch_size, args.repeats))
        runs[-1]["threads"] = threads
    if torch.cuda.is_available():
        runs.append(measure(args.model, "cuda", max(args.n, 16384), 1024, args.repeats))
    doc = {"benchmark": "score", "torch": torch.__version__, "cpu_count": os.cpu_count(),
           "load_average_1_5_15min": list(os.getloadavg()),
           "machine": platform.machine(), "runs": runs,
           "cuda": "measured" if torch.cuda.is_available() else "not measured (no GPU here)"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "score.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["# Scoring throughput (shipped model)", "",
             "Ensemble p_astro + p_std + BALD for 256x256 ft and dmt images held in memory "
             "(`benchmarks/bench_score.py`).", "",
             "| device | threads | batch | candidates | seconds | candidates/s |",
             "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['device']} ({r['device_name']}) | {r.get('threads', '-')} | "
                     f"{r['batch_size']} | {r['n']} | {r['seconds']:.2f} | "
                     f"{r['candidates_per_s']:.0f} |")
    if not torch.cuda.is_available():
        lines.append("| cuda | - | - | - | - | not yet measured (no GPU on this machine) |")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines += ["", f"Model {runs[0]['model_version']}, torch {torch.__version__}, "
              f"{os.cpu_count()} CPU cores, load average {load} (1/5/15 min) after the runs: "
              "the cores were shared with other work, so these are lower bounds."]
    (out / "score.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
