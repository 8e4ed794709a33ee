"""Single-pulse search speed: frbtriage's DM/time plans against each other and a brute force.

Simulates a CHIME-like observation (1024 channels, 400-800 MHz, 0.98304 ms, the full RFI
zoo, default burst population) with ``frbtriage simulate``'s API, then in the same run:

1. ``frbtriage.search.search_file`` over the whole file to DM 2000 with the old plan
   (``plan="tree"``: every level from DM 0) and the new one (``plan="ddplan"``, the
   default), alternately ``--repeat`` times each: real-time factor (data duration / wall
   time, and from CPU time / cores), recovery of the injected bursts (truth S/N >= 10, found
   within 5 % in DM and two widths in time) and other candidates per minute;
2. the S/N each plan keeps (``frbtriage.search_loss``: noise-free bursts through the plan's
   own FDMT and boxcars, as a fraction of the matched S/N) on a grid of DMs and widths;
3. the baseline: the same cleaning, then for each DM trial a numpy dedispersion (one
   shifted-slice add per channel) and the same boxcar kernel at native resolution with
   native widths up to ``--max-width``, over the same DM trials the tree covers. The
   baseline is timed on every ``--baseline-stride``-th trial over ``--baseline-seconds`` of
   output and scaled to all trials and the whole file (its cost per trial does not depend on
   the DM); the table says so.

Writes ``benchmarks/results/search.json`` and ``search.md``. The machine is shared: the
load average before and after is recorded; rerun when it is quiet.

    python benchmarks/bench_search.py [--minutes 3] [--nchan 1024] [--dm-max 2000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from frbtriage.kernels.boxcar import boxcar_snr, robust_normalise
from frbtriage.kernels.fdmt import delay_to_dm, dm_to_delay

from frbtriage.io.filterbank import FilterbankReader
from frbtriage.search import (
    SearchConfig,
    SearchStats,
    _channel_mask,
    _clip_zero_dm,
    dm_plan,
    search_file,
)
from frbtriage.search_loss import snr_loss_table
from frbtriage.simulate import simulate_observation

RESULTS = Path(__file__).resolve().parent / "results"


def recovery(sim_dir: Path, cands, dm_max: float, tsamp: float, snr_min: float = 10.0):
    """(found, total, n_other): bursts with truth S/N >= snr_min and DM <= dm_max found within
    5 % in DM and two widths in time; candidates matching no burst."""
    with open(sim_dir / "truth.csv", newline="") as fh:
        bursts = [r for r in csv.DictReader(fh) if r["kind"] == "burst"]
    matched: set[int] = set()
    found = total = 0
    for b in bursts:
        t, dm, w, snr = (float(b[k]) for k in ("time_s", "dm", "width_samples", "snr"))
        hits = [i for i, c in enumerate(cands)
                if abs(c.dm - dm) <= 0.05 * dm and abs(c.tcand - t) <= 2 * max(w, c.width) * tsamp]
        matched.update(hits)
        if snr >= snr_min and dm <= dm_max:
            total += 1
            found += bool(hits)
    return found, total, len(cands) - len(matched)


def tree_trials(cfg: SearchConfig, maxdelay: int) -> np.ndarray:
    """Native sweeps (samples) of the DM trials the search tree covers at each resolution."""
    out = [np.arange(0, min(cfg.tree_delay, maxdelay) + 1)]
    k = 1
    while cfg.tree_delay << (k - 1) < maxdelay:
        lo, hi = cfg.tree_delay << (k - 1), min(cfg.tree_delay << k, maxdelay)
        out.append(np.arange(lo + (1 << k), hi + 1, 1 << k))
        k += 1
    return np.concatenate(out)


def baseline(path: Path, cfg: SearchConfig, seconds: float, stride: int) -> dict:
    """Time the brute-force per-DM search on a piece and scale it to the whole file."""
    with FilterbankReader(path) as r:
        h = r.header
        freqs = np.asarray(h.freqs, np.float64)
        f_lo, f_hi = float(freqs.min()), float(freqs.max())
        maxdelay = int(np.ceil(dm_to_delay(cfg.dm_max, f_lo, f_hi, h.tsamp)))
        nout = int(seconds / h.tsamp)
        n = min(h.nspectra, nout + maxdelay)
        nout = n - maxdelay
        raw = np.ascontiguousarray(r.read(0, n).data, dtype=np.float32)
    max_w = max(1, round(cfg.max_width_s / h.tsamp))
    widths = [w for w in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
              if w <= max_w]
    g = (freqs**-2 - f_hi**-2) / (f_lo**-2 - f_hi**-2)
    trials = tree_trials(cfg, maxdelay)
    sample = trials[::stride]
    t0 = time.perf_counter()
    x = robust_normalise(raw)
    good = _channel_mask(raw, x, cfg.rfi_masks)
    _clip_zero_dm(x, good, np.float32(cfg.clip_sigma), cfg.zero_dm)
    t_clean = time.perf_counter() - t0
    t0 = time.perf_counter()
    best = 0.0
    for d in sample:
        shifts = np.rint(d * g).astype(np.int64)
        ts = np.zeros(nout + max(widths), np.float32)
        m = ts.size
        for c in range(x.shape[0]):
            s = shifts[c]
            seg = x[c, s : s + m]
            ts[: seg.size] += seg
        snr, _ = boxcar_snr(ts[None, :], widths, nout, normalise=True, nsub=1024)
        best = max(best, float(snr.max()))
    t_trials = time.perf_counter() - t0
    duration = h.nspectra * h.tsamp
    piece = nout * h.tsamp
    scale = duration / piece
    wall = (t_clean + t_trials * len(trials) / len(sample)) * scale
    return {
        "method": "numpy brute force per DM trial + the same boxcar kernel (native resolution)",
        "dm_trials": int(len(trials)),
        "trials_timed": int(len(sample)),
        "widths_samples": widths,
        "piece_seconds": round(piece, 3),
        "measured_wall_s": round(t_clean + t_trials, 3),
        "extrapolated_wall_s": round(wall, 2),
        "realtime_factor": round(duration / wall, 4),
        "note": f"timed on every {stride}th of {len(trials)} trials over {piece:.1f} s of output; "
                f"scaled x{len(trials) / len(sample):.1f} in trials and x{scale:.1f} in time",
    }


#: the S/N-loss grid: DMs (pc cm^-3) x intrinsic widths (FWHM, s)
LOSS_DMS = (10, 50, 100, 200, 300, 500, 800, 1200, 1600, 2000)
LOSS_WIDTHS = (0.0, 1e-3, 3e-3, 10e-3)
PLANS = (("old", "tree"), ("new", "ddplan"))


def timed_search(path: Path, cfg: SearchConfig) -> tuple[list, SearchStats, float]:
    """Candidates, stats and CPU seconds (user + system) of one search."""
    st = SearchStats()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cands = search_file(path, config=cfg, stats=st)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    return cands, st, (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)


def plan_rows(cfg: SearchConfig, freqs: np.ndarray, tsamp: float, maxdelay: int) -> list[dict]:
    """The stages of ``cfg``'s plan: decimation, DM range with all widths, boxcars (native)."""
    f_lo, f_hi = float(freqs.min()), float(freqs.max())
    dpn = float(delay_to_dm(1, f_lo, f_hi, tsamp))
    out = []
    for st in dm_plan(cfg, freqs, tsamp, maxdelay, max(1, round(cfg.max_width_s / tsamp))):
        f = st.factor
        lo, hi = st.native_range()
        out.append({"decimation": f, "dm_lo": round(lo * dpn, 1) if st.widths else None,
                    "dm_hi": round(min(hi * dpn, cfg.dm_max), 1) if st.widths else None,
                    "dm_step": round(f * dpn, 4), "trials": st.hi - st.first + 1,
                    "widths_samples": [w * f for w in st.widths],
                    "wide_below_dm_lo": [w * f for w in st.wide]})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--nchan", type=int, default=1024)
    ap.add_argument("--dm-max", type=float, default=2000.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smear-tol", type=float, default=SearchConfig.smear_tol)
    ap.add_argument("--repeat", type=int, default=1, help="searches per plan, alternating")
    ap.add_argument("--baseline-seconds", type=float, default=8.0)
    ap.add_argument("--baseline-stride", type=int, default=64)
    ap.add_argument("--workdir", default=None,
                    help="where to simulate (default: a temp dir); an existing simulation of "
                         "the same parameters there is reused")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    args = ap.parse_args(argv)

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_search_")
        work = Path(tmp.name)
    else:
        work = Path(args.workdir)
    tag = f"sim_{args.minutes:g}min_{args.nchan}ch_seed{args.seed}"
    sim = work / tag
    if not (sim / "obs.fil").exists() or not (sim / "truth.csv").exists():
        print(f"simulating {args.minutes} min x {args.nchan} channels into {sim} ...", flush=True)
        simulate_observation(sim, minutes=args.minutes, nchan=args.nchan, seed=args.seed)
    warm = work / f"warm_{args.nchan}ch"  # load/compile the kernels outside the timed runs
    if not (warm / "obs.fil").exists():
        simulate_observation(warm, minutes=0.1, nchan=args.nchan, seed=1, n_bursts=1)
    cfgs = {name: SearchConfig(dm_min=0.0, dm_max=args.dm_max, snr_min=7.0, max_width_s=0.1,
                               plan=plan, smear_tol=args.smear_tol)
            for name, plan in PLANS}
    for cfg in cfgs.values():
        search_file(warm / "obs.fil", config=cfg)

    cores = os.cpu_count() or 1
    load0 = os.getloadavg()
    runs: dict[str, list[dict]] = {name: [] for name in cfgs}
    for _ in range(max(1, args.repeat)):
        for name, cfg in cfgs.items():
            cands, st, cpu_s = timed_search(sim / "obs.fil", cfg)
            found, total, other = recovery(sim, cands, args.dm_max, st.tsamp)
            runs[name].append({
                "wall_s": round(st.wall_s, 2), "cpu_s": round(cpu_s, 2),
                "realtime_factor": round(st.realtime_factor, 3),
                "realtime_factor_from_cpu_time": round(st.duration_s / (cpu_s / cores), 3),
                "loadavg_1min": round(os.getloadavg()[0], 2),
                "detections": st.detections, "candidates": st.candidates,
                "bursts_found": found, "bursts_snr_ge_10": total,
                "other_candidates_per_minute": round(other / (st.duration_s / 60), 2),
            })
            r = runs[name][-1]
            print(f"{name} plan ({cfg.plan}): {st.duration_s:.1f} s in {st.wall_s:.1f} s = "
                  f"{st.realtime_factor:.2f}x real time ({r['realtime_factor_from_cpu_time']:.2f}x "
                  f"from CPU), {found}/{total} bursts, {other} other, load "
                  f"{r['loadavg_1min']}", flush=True)
    duration, tsamp = st.duration_s, st.tsamp
    with FilterbankReader(sim / "obs.fil") as r:
        freqs = np.asarray(r.header.freqs, np.float64)
    maxdelay = int(np.ceil(dm_to_delay(args.dm_max, freqs.min(), freqs.max(), tsamp)))
    print("S/N loss tables ...", flush=True)
    loss = {name: snr_loss_table(cfg, freqs, tsamp, LOSS_DMS, LOSS_WIDTHS)
            for name, cfg in cfgs.items()}
    base = baseline(sim / "obs.fil", cfgs["old"], args.baseline_seconds, args.baseline_stride)
    load1 = os.getloadavg()
    print(f"baseline: {base['realtime_factor']:.3f}x real time ({base['note']})")

    def best(name: str) -> dict:  # the run with the least wall time
        return min(runs[name], key=lambda r: r["wall_s"])

    wall_ratio = [o["wall_s"] / n["wall_s"] for o, n in zip(runs["old"], runs["new"], strict=True)]
    cpu_ratio = [o["cpu_s"] / n["cpu_s"] for o, n in zip(runs["old"], runs["new"], strict=True)]
    result = {
        "machine": {
            "cores": cores,
            "numba_threads": numba.get_num_threads(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "loadavg_before": [round(v, 2) for v in load0],
            "loadavg_after": [round(v, 2) for v in load1],
        },
        "data": {"nchan": args.nchan, "minutes": args.minutes, "tsamp_s": tsamp,
                 "duration_s": round(duration, 3), "seed": args.seed,
                 "dm_max": args.dm_max, "snr_min": 7.0, "max_width_s": 0.1},
        "plans": {name: {"plan": cfg.plan, "smear_tol": cfg.smear_tol if cfg.plan == "ddplan"
                         else None, "tree_delay": cfg.tree_delay if cfg.plan == "tree" else None,
                         "stages": plan_rows(cfg, freqs, tsamp, maxdelay),
                         "runs": runs[name], "best": best(name),
                         "snr_fraction": [{"dm": x.dm, "width_ms": x.width_s * 1e3,
                                           "mean": round(x.mean, 3), "min": round(x.min, 3),
                                           "decimation": x.factor} for x in loss[name]]}
                  for name, cfg in cfgs.items()},
        "new_vs_old": {"wall_ratio_per_pair": [round(v, 2) for v in wall_ratio],
                       "cpu_ratio_per_pair": [round(v, 2) for v in cpu_ratio]},
        "baseline": base,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "search.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "search.md").write_text(markdown(result, args))
    print(markdown(result, args))
    if tmp is not None:
        tmp.cleanup()
    return 0


def markdown(result: dict, args: argparse.Namespace) -> str:
    """The results as the Markdown page of ``benchmarks/results/search.md``."""
    m, d, base = result["machine"], result["data"], result["baseline"]
    cores = m["cores"]
    md = [
        f"# Single-pulse search speed ({d['nchan']} channels, {d['duration_s']:.0f} s, "
        f"DM 0-{d['dm_max']:g})",
        "",
        f"Machine: {cores} cores ({m['numba_threads']} Numba threads), load average "
        f"{m['loadavg_before'][0]} before / {m['loadavg_after'][0]} after (shared machine; "
        "each run's own load is in the table).",
        "",
        "| plan | run | wall (s) | real-time factor | CPU (s) | from CPU time / cores | "
        "bursts S/N >= 10 found | other cands / min | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, p in result["plans"].items():
        label = f"{name}: {p['plan']}" + (f" (tol {p['smear_tol']:g})" if p["smear_tol"] else
                                          f" (tree_delay {p['tree_delay']})")
        for i, r in enumerate(p["runs"]):
            md.append(f"| {label} | {i + 1} | {r['wall_s']:.1f} | {r['realtime_factor']:.2f}x | "
                      f"{r['cpu_s']:.1f} | {r['realtime_factor_from_cpu_time']:.2f}x | "
                      f"{r['bursts_found']}/{r['bursts_snr_ge_10']} | "
                      f"{r['other_candidates_per_minute']} | {r['loadavg_1min']} |")
    md.append(f"| brute force per DM (numpy) + same boxcar, {base['dm_trials']} trials | | "
              f"{base['extrapolated_wall_s']:.0f} (extrapolated) | "
              f"{base['realtime_factor']:.3f}x | | | | | |")
    r = result["new_vs_old"]
    md += [
        "",
        f"New / old in the same run: {', '.join(f'{v:.2f}x' for v in r['wall_ratio_per_pair'])} "
        f"faster in wall time, {', '.join(f'{v:.2f}x' for v in r['cpu_ratio_per_pair'])} in "
        f"CPU time (per old/new pair). Baseline {base['note']}.",
        "",
        "## The plans' stages",
        "",
        "| plan | decimation | DM range (all widths) | DM step | FDMT trials | boxcars (native "
        "samples) | wide boxcars below the range |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for name, p in result["plans"].items():
        for s in p["stages"]:
            rng = "-" if s["dm_lo"] is None else f"{s['dm_lo']:g}-{s['dm_hi']:g}"
            md.append(f"| {name} | {s['decimation']} | {rng} | {s['dm_step']:g} | {s['trials']} | "
                      f"{s['widths_samples']} | {s['wide_below_dm_lo'] or '-'} |")
    md += [
        "",
        "## S/N kept by each plan",
        "",
        "Fraction of the matched S/N (exact DM, native samples, best boxcar of any width) that "
        "the plan's own FDMT and boxcars give a noise-free flat-spectrum burst, mean (min) over "
        "placements between DM trials and sample phases (`frbtriage.search_loss`).",
        "",
        "| DM | " + " | ".join(f"{w * 1e3:g} ms old | new" for w in LOSS_WIDTHS) + " |",
        "|---:|" + "---:|---:|" * len(LOSS_WIDTHS),
    ]
    old, new = (result["plans"][k]["snr_fraction"] for k in ("old", "new"))
    nw = len(LOSS_WIDTHS)
    for i, dm in enumerate(LOSS_DMS):
        cells = []
        for j in range(nw):
            o, n = old[i * nw + j], new[i * nw + j]
            cells.append(f"{o['mean']:.2f} ({o['min']:.2f}) | {n['mean']:.2f} ({n['min']:.2f})")
        md.append(f"| {dm} | " + " | ".join(cells) + " |")
    md += [
        "",
        "Command: `python benchmarks/bench_search.py "
        f"--minutes {args.minutes:g} --nchan {args.nchan} --dm-max {args.dm_max:g} "
        f"--repeat {args.repeat}`",
        "",
    ]
    return "\n".join(md)


if __name__ == "__main__":
    sys.exit(main())
