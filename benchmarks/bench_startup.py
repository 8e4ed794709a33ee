"""Whole-process start-up: frbtriage's CLI vs ``your``'s candidate maker, side by side.

A real-time trigger or a script may call the CLI once per candidate, so what counts is the
wall time of the whole process, imports included. Measured here, each as a fresh process,
median of N runs, on a one-candidate your/FETCH list made from ``data_samples/chime_sim``
(its brightest burst: DM 725, width 64 samples, 256 channels):

* ``python -c pass``: the interpreter alone (the floor of any Python tool);
* ``frbtriage --version``;
* ``frbtriage prepare`` of the one-candidate list into a new workspace (each run a new one);
* ``frbtriage rank`` of the same list (prepare + score with the shipped model, torch on CPU);
* the anchor, ``your``'s candidate maker as a whole process: ``python -c`` running
  ``your_candmaker.py``'s CPU steps for the same candidate (read the list, ``Candidate``,
  get_chunk, dmtime, dedisperse, decimate, crop, resize, normalise, ``save_h5``), as
  ``benchmarks/bench_prepare.py`` does in-process. (``your_candmaker.py`` itself, as installed
  with your 0.6.7, fails under numpy 2 on ``np.int``.)

Then where a ``prepare`` process spends its time: ``python -X importtime`` of the same
command, top-level imports by cumulative time (Numba's own lazy imports at its first kernel
call, e.g. ``numba.np.arraymath`` -> ``scipy.linalg``, show up as top-level entries), the
Numba kernels that run loaded from the cache, and the rest. Load average (``uptime``)
before and after is recorded: the development machine has 2 cores shared with other jobs.

Writes ``benchmarks/results/startup.json`` and ``startup.md``. Run:

    python benchmarks/bench_startup.py              # 7 runs each, 3 of the anchor
    python benchmarks/bench_startup.py --runs 3 --anchor-runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = ROOT / "data_samples" / "chime_sim"
BIN = Path(sys.executable).parent
#: The candidate: the sample's brightest burst (candidates.csv row 2).
ONE = "{d}/obs.fil,57.6001,3.383938,6,725.1812,1,{d}/obs.bad_chans,1\n"
#: The anchor process: your_candmaker.py's CPU path (cpu_dedisp_dmt, resize, normalise,
#: save_h5) for each row of the list in argv[1], h5 files into argv[2].
YOUR_CANDMAKER = """
import csv, sys
from your.candidate import Candidate
from your.utils.math import normalise
from your.utils.misc import crop
for row in csv.DictReader(open(sys.argv[1])):
    cand = Candidate(fp=row["file"], dm=float(row["dm"]), tcand=float(row["stime"]),
                     width=2 ** int(row["width"]), label=int(row["label"]),
                     snr=float(row["snr"]))
    cand.get_chunk(for_preprocessing=True)
    decim = 1 if cand.width == 1 else cand.width // 2
    cand.dmtime()
    cand.dedisperse()
    cand.decimate(key="ft", axis=0, pad=True, decimate_factor=decim, mode="median")
    cand.dedispersed = crop(cand.dedispersed, cand.dedispersed.shape[0] // 2 - 128, 256, 0)
    cand.decimate(key="dmt", axis=1, pad=True, decimate_factor=decim, mode="median")
    cand.dmt = crop(cand.dmt, cand.dmt.shape[1] // 2 - 128, 256, 1)
    cand.resize(key="ft", size=256, axis=1, anti_aliasing=True, mode="constant")
    cand.dmt = normalise(cand.dmt)
    cand.dedispersed = normalise(cand.dedispersed)
    cand.save_h5(out_dir=sys.argv[2])
"""


def load() -> str:
    """``uptime``'s load averages (1, 5, 15 min)."""
    return os.popen("uptime").read().strip().split("load average:")[-1].strip()


def wall(cmd: list[str], cwd: Path, before=None) -> tuple[float, float]:  # noqa: ANN001
    """Wall and CPU (user + system) seconds of one run of ``cmd`` (``before()`` runs first,
    untimed); fails loudly. CPU time moves less than wall time with the machine's load."""
    if before is not None:
        before()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def timed(name: str, cmd: list[str], cwd: Path, runs: int, before=None) -> dict:  # noqa: ANN001
    """Median (and all) wall seconds of ``runs`` runs of ``cmd``, after one untimed run that
    fills the OS file cache and Numba's on-disk cache as any earlier use would have."""
    wall(cmd, cwd, before)
    both = [wall(cmd, cwd, before) for _ in range(runs)]
    times, cpu = [w for w, _ in both], [c for _, c in both]
    med = statistics.median(times)
    print(f"{name:28s} median {med:6.2f} s of {runs} (CPU {statistics.median(cpu):.2f} s): "
          f"{', '.join(f'{t:.2f}' for t in times)}", flush=True)
    return {"command": " ".join(str(c) for c in cmd), "runs": runs,
            "median_s": round(med, 3), "min_s": round(min(times), 3),
            "cpu_median_s": round(statistics.median(cpu), 3),
            "all_s": [round(t, 3) for t in times]}


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_breakdown(cmd_args: list[str], cwd: Path) -> dict:
    """``python -X importtime`` of ``frbtriage CMD_ARGS`` run in-process: total wall, top-level
    imports (cumulative ms), kernels loaded from Numba's cache, and what is left."""
    probe = ("import sys, time\n"
             "t0 = time.perf_counter()\n"
             "from frbtriage.cli import main\n"
             "code = main(sys.argv[1:])\n"
             "t = time.perf_counter() - t0\n"
             "import gc\n"
             "from numba.core.dispatcher import Dispatcher\n"
             "n = sum(1 for d in gc.get_objects() if isinstance(d, Dispatcher) and d.overloads)\n"
             "print(f'TOTAL {t:.4f} KERNELS {n}', file=sys.stderr)\n"
             "sys.exit(code)\n")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", probe, *cmd_args], cwd=cwd,
                          capture_output=True, text=True)
    whole = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"importtime probe failed: {proc.stderr[-2000:]}")
    top: dict[str, float] = {}
    by_package: dict[str, float] = {}  # self time of every module, by its top-level package
    for line in proc.stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        pkg = m.group(4).split(".")[0]
        by_package[pkg] = by_package.get(pkg, 0.0) + int(m.group(1)) / 1e6
        if len(m.group(3)) == 1:  # top level: one space after the bar
            top[m.group(4)] = top.get(m.group(4), 0.0) + int(m.group(2)) / 1e6
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])
    total_line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("TOTAL"))
    _, total, _, kernels = total_line.split()
    imports = sum(top.values())
    ranked = sorted(top.items(), key=lambda kv: -kv[1])
    return {"process_wall_s": round(whole, 3), "in_process_s": float(total),
            "imports_s": round(imports, 3), "kernels_loaded": int(kernels),
            "top_imports_s": {k: round(v, 3) for k, v in ranked[:14]},
            "by_package_self_s": {k: round(v, 3) for k, v in packages[:12]},
            "note": "-X importtime itself adds some overhead; top-level = imported by "
                    "frbtriage code or by Numba at its first kernel call"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="runs per frbtriage command (7)")
    ap.add_argument("--anchor-runs", type=int, default=3, help="runs of your_candmaker.py (3)")
    args = ap.parse_args()

    frb = str(BIN / "frbtriage")
    load_before = load()
    print(f"load average before: {load_before}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        tmp = Path(tmp)
        one = tmp / "one.csv"
        one.write_text("file,snr,stime,width,dm,label,chan_mask_path,num_files\n"
                       + ONE.format(d=SAMPLE))
        ws = tmp / "ws"

        def fresh_ws() -> None:
            shutil.rmtree(ws, ignore_errors=True)

        res = {
            "python": timed("python -c pass", [sys.executable, "-c", "pass"], tmp, args.runs),
            "version": timed("frbtriage --version", [frb, "--version"], tmp, args.runs),
            "prepare": timed("frbtriage prepare (new ws)",
                             [frb, "prepare", "--workspace", str(ws), "--candidates", str(one),
                              "--no-progress"], tmp, args.runs, before=fresh_ws),
            "rank": timed("frbtriage rank", [frb, "rank", str(one), "-o", str(tmp / "r.csv"),
                                             "--device", "cpu"], tmp, args.runs),
        }
        out = tmp / "h5"
        out.mkdir()
        res["anchor"] = timed("your candmaker steps", [sys.executable, "-c", YOUR_CANDMAKER,
                                                       str(one), str(out)],
                              tmp, args.anchor_runs)
        res["anchor"]["what"] = ("python -c: your_candmaker.py's CPU steps + save_h5 for "
                                 "one candidate")
        fresh_ws()
        breakdown = import_breakdown(["prepare", "--workspace", str(ws), "--candidates",
                                      str(one), "--no-progress"], tmp)
    load_after = load()
    print(f"load average after: {load_after}", flush=True)

    a = res["anchor"]
    ratios = {f"anchor / {k} ({unit})": round(a[key] / res[k][key], 2)
              for k in ("prepare", "rank") for unit, key in (("wall", "median_s"),
                                                            ("CPU", "cpu_median_s"))}
    result = {
        "benchmark": "bench_startup",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_before": load_before,
                    "load_after": load_after},
        "input": "one candidate of data_samples/chime_sim (256 ch, DM 725, width 64 samples)",
        "target_s": {"prepare": 1.0},
        "results": res,
        "ratios": ratios,
        "prepare_breakdown": breakdown,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "startup.md").write_text(markdown(result))
    print(f"wrote {RESULTS / 'startup.json'} and startup.md")


def markdown(r: dict) -> str:
    """The results as a Markdown table plus the prepare breakdown."""
    res, m = r["results"], r["machine"]
    rows = [("`python -c pass` (interpreter alone)", "python"),
            ("`frbtriage --version`", "version"),
            ("`frbtriage prepare` one candidate, new workspace", "prepare"),
            ("`frbtriage rank` one candidate (prepare + torch CNN on CPU)", "rank"),
            ("anchor: `your`'s candidate maker steps, one candidate to .h5", "anchor")]
    lines = [
        "# Start-up: whole-process wall time",
        "",
        f"{r['date']}; {m['cpus']} CPUs, Python {m['python']}; load average "
        f"{m['load_before']} before, {m['load_after']} after (other jobs share the machine). "
        f"Input: {r['input']}. Median of N fresh processes after one untimed run (warm OS "
        "and Numba caches). Produced by `python benchmarks/bench_startup.py`.",
        "",
        "| command | median wall (s) | min wall (s) | median CPU, user + sys (s) | runs |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in rows:
        if key in res:
            x = res[key]
            lines.append(f"| {label} | {x['median_s']:.2f} | {x['min_s']:.2f} | "
                         f"{x['cpu_median_s']:.2f} | {x['runs']} |")
    for k, v in r["ratios"].items():
        lines.append(f"\n{k}: **{v}x**")
    b = r["prepare_breakdown"]
    lines += [
        "",
        f"## Where `frbtriage prepare` spends its time (one run under `-X importtime`: "
        f"{b['process_wall_s']:.2f} s as a process, {b['in_process_s']:.2f} s after the "
        f"interpreter started)",
        "",
        f"imports {b['imports_s']:.2f} s; {b['kernels_loaded']} Numba kernels loaded from "
        f"the cache; the rest (Numba's set-up at its first kernel call, the work, the "
        "workspace's files) "
        f"{b['in_process_s'] - b['imports_s']:.2f} s.",
        "",
        "| package (all its modules, self time) | import (s) |",
        "|---|---:|",
    ]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in b["by_package_self_s"].items()]
    lines += ["", "| top-level import (what triggered it) | cumulative (s) |", "|---|---:|"]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in b["top_imports_s"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
