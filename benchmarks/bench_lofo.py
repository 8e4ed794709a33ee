"""Leave one family out: is the model confidently wrong, and does its uncertainty rise, on a
burst morphology or an interference family its training never held? (issue 14)

1. **Training set**: a workspace made by ``frbtriage train --families all`` (``--train-ws``):
   its simulated observations hold every family (burst morphologies in the burst-rich ones,
   imitating interference in the burst-free ones). Each labelled candidate's family is read
   from its observation's ``truth.csv`` (``candidate_rows``; ``family_of``).
2. **Models**: for each held-out family ``F`` (``--families``, default all eleven) an
   ensemble trained, calibrated and tested (``fit_calibrate_evaluate``: the same recipe as
   ``frbtriage train``) on the candidates whose family is not ``F``; and one **reference**
   trained on all of them the same way (it has seen ``F``).
3. **Evaluation**: ``bench_families.py``'s observations (its ``--obs-per-family``,
   ``--standard-obs``, ``--minutes``, ``--family-rate``; other seeds than any training), scored
   by every model. For family ``F``: its AUC against the in-distribution candidates of the
   other class, the fraction of confident errors (p >= 0.9 on a non-burst, p <= 0.1 on a
   burst), and the AUROC of BALD / p_std for "``F``" against the in-distribution candidates
   (0.5: no less sure than on what it knows), for the model that never saw ``F``, the
   reference, and the shipped model (which saw no family at all).

Writes ``lofo.json`` and ``lofo.md`` to ``--out`` (default ``benchmarks/results``).

    python benchmarks/bench_lofo.py --train-ws WS [--families peryton chirp_power] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_families as fam  # noqa: E402

from frbtriage.errors import InputError  # noqa: E402
from frbtriage.io.candidates import read_candidates  # noqa: E402
from frbtriage.model.data import load_labelled  # noqa: E402
from frbtriage.model.network import Architecture  # noqa: E402
from frbtriage.model.train import TrainConfig, fit_calibrate_evaluate  # noqa: E402
from frbtriage.simulate.observation import FAMILIES  # noqa: E402
from frbtriage.simulate.truth import family_of, read_truth_csv  # noqa: E402
from frbtriage.workspace import Workspace  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The goal of the issue: confident errors on a family the model never saw.
TARGET_CONFIDENT_ERRORS = 0.02


def training_families(ws: Workspace) -> dict[int, str]:
    """Candidate id -> family for the labelled candidates of the training workspace ``ws``,
    from the truth tables of its ``simulations/*`` folders."""
    key_family: dict[tuple[str, float, float], str] = {}
    for folder in sorted((Path(ws.path) / "simulations").iterdir()):
        truth, cands = folder / "truth.csv", folder / "candidates.csv"
        if not (truth.is_file() and cands.is_file()):
            continue
        owner = {i: family_of(r) for r in read_truth_csv(truth) for i in r.candidate_rows}
        for i, c in enumerate(read_candidates(cands)):
            if i in owner:
                key_family[(str(Path(c.file).resolve()), round(c.tcand, 4), round(c.dm, 3))] = \
                    owner[i]
    out = {}
    for rec in ws.candidates():
        f = key_family.get((str(Path(rec.file).resolve()), round(rec.tcand, 4), round(rec.dm, 3)))
        if f is not None and rec.label is not None:
            out[rec.id] = f
    return out


def train_without(ws: Workspace, family_of_id: dict[int, str], held_out: str | None,
                  cfg: TrainConfig, out_dir: Path) -> tuple[Path, int]:
    """Train on the labelled candidates whose family is not ``held_out`` (None: all) into
    ``out_dir``; returns it and the number of candidates trained on (all splits)."""
    ids = sorted(i for i, f in family_of_id.items() if f != held_out)
    data = load_labelled(ws, Architecture(), ids=ids)
    fit_calibrate_evaluate(data.x, data.targets, data.weights, cfg, out_dir,
                           training_description={"benchmark": "bench_lofo",
                                                 "held_out_family": held_out})
    return out_dir, len(ids)


def row_of(sc: fam.Scored, family: str) -> dict[str, Any]:
    """The family's numbers (``bench_families.family_row``) that this benchmark reports."""
    r = fam.family_row(sc, family)
    return {k: r.get(k) for k in ("n", "auc", "confident_errors", "mean_p_astro",
                                  "bald_auroc_unseen", "p_std_auroc_unseen")}


def markdown(doc: dict[str, Any]) -> str:
    """The tables of ``lofo.md``."""
    s = doc["settings"]

    def f(x: Any, fmt: str = ".2f") -> str:
        return "-" if x is None else format(x, fmt)

    lines = [
        "# Leave one family out (issue 14)", "",
        f"`python benchmarks/bench_lofo.py` ({doc['seconds'] / 60:.0f} min on {doc['cpus']} "
        f"CPUs, load average {', '.join(f'{x:.1f}' for x in doc['load_average'])} at the end). "
        f"Training set: `{s['train_ws']}` ({doc['n_train_candidates']} labelled candidates, "
        f"{s['epochs']} epochs per model, seed {s['seed']}); evaluation: bench_families' "
        f"observations ({s['obs_per_family']} per family, {s['standard_obs']} standard, "
        f"{s['minutes']} min, family rate {s['family_rate']:g}).", "",
        "Per held-out family: the model trained **without** it, the reference trained **with** "
        "every family (same recipe), and the shipped model (no family). Confident error: "
        "p >= 0.9 on a non-burst, p <= 0.1 on a burst (target on unseen families: <= "
        f"{TARGET_CONFIDENT_ERRORS:.0%}). BALD AUROC: BALD separating the family from the "
        "in-distribution candidates (0.5: no less sure than on what it knows).", "",
        "| held-out family | n | AUC without / with / shipped | confident errors without / "
        "with / shipped | mean p_astro without | BALD AUROC without / with / shipped | "
        "p_std AUROC without |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in doc["families"]:
        w, a, z = r["without"], r["with"], r["shipped"]
        lines.append(
            f"| {r['family']} ({'burst' if r['burst'] else 'not a burst'}) | {w['n']} | "
            f"{f(w['auc'], '.3f')} / {f(a['auc'], '.3f')} / {f(z['auc'], '.3f')} | "
            f"**{f(w['confident_errors'])}** / {f(a['confident_errors'])} / "
            f"{f(z['confident_errors'])} | {f(w['mean_p_astro'])} | "
            f"**{f(w['bald_auroc_unseen'])}** / {f(a['bald_auroc_unseen'])} / "
            f"{f(z['bald_auroc_unseen'])} | {f(w['p_std_auroc_unseen'])} |")
    t = doc["totals"]
    lines += [
        "", f"Over the held-out families: confident errors **{t['confident_errors_without']:.3f}** "
        f"of {t['n']} candidates when unseen ({t['confident_errors_with']:.3f} when seen, "
        f"{t['confident_errors_shipped']:.3f} for the shipped model); target <= "
        f"{TARGET_CONFIDENT_ERRORS}: **{'met' if t['met'] else 'missed'}**. BALD AUROC "
        f"unseen vs in-distribution, mean over families: {t['bald_auroc_without']:.2f} "
        f"(reference {t['bald_auroc_with']:.2f}).", "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train-ws", type=Path, required=True,
                    help="workspace made by `frbtriage train --families all`")
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), metavar="FAMILY")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--obs-per-family", type=int, default=1)
    ap.add_argument("--standard-obs", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=0.5)
    ap.add_argument("--family-rate", type=float, default=16.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    unknown = sorted(set(a.families) - set(FAMILIES))
    ecfg = fam.Settings(a.obs_per_family, a.standard_obs, a.minutes, a.family_rate, a.threads)
    try:
        if unknown:
            raise InputError(None, f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
        if a.epochs < 1:
            raise InputError(None, "--epochs must be >= 1")
        if not (a.train_ws / "triage.db").exists():
            raise InputError(a.train_ws, "is not a workspace (made by frbtriage train)")
        ecfg.check()
    except InputError as err:
        print(f"bench_lofo: error: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    tcfg = TrainConfig(epochs=a.epochs, seed=a.seed)
    root = Path(tempfile.mkdtemp(prefix="bench_lofo_"))
    try:
        with Workspace.open(a.train_ws) as tws:
            family_of_id = training_families(tws)
            present = set(family_of_id.values())
            missing = [f for f in a.families if f not in present]
            if missing:
                print(f"bench_lofo: error: the training workspace holds no {missing}",
                      file=sys.stderr)
                return 2
            models = {None: train_without(tws, family_of_id, None, tcfg, root / "all")[0]}
            for f in a.families:
                models[f] = train_without(tws, family_of_id, f, tcfg, root / f)[0]
                print(f"  trained without {f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        ews, family = fam.build(ecfg, root / "eval")
        with ews:
            scored = {k: fam.score(ews, family, m)[0] for k, m in models.items()}
            shipped = fam.score(ews, family)[0]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    for f in a.families:
        rows.append({"family": f, "burst": f in fam.BURST_FAMILIES,
                     "without": row_of(scored[f], f), "with": row_of(scored[None], f),
                     "shipped": row_of(shipped, f)})

    def total(which: str) -> float:
        n = sum(r[which]["n"] for r in rows)
        return sum(r[which]["confident_errors"] * r[which]["n"] for r in rows if r[which]["n"]) / n

    def mean_auroc(which: str) -> float:
        v = [r[which]["bald_auroc_unseen"] for r in rows
             if r[which]["bald_auroc_unseen"] is not None]
        return float(np.mean(v)) if v else float("nan")

    totals = {"n": sum(r["without"]["n"] for r in rows),
              "confident_errors_without": total("without"), "confident_errors_with": total("with"),
              "confident_errors_shipped": total("shipped"),
              "bald_auroc_without": mean_auroc("without"), "bald_auroc_with": mean_auroc("with")}
    totals["met"] = totals["confident_errors_without"] <= TARGET_CONFIDENT_ERRORS
    doc = {"settings": {**vars(a), "train_ws": str(a.train_ws), "out": str(a.out)},
           "n_train_candidates": len(family_of_id), "seconds": time.perf_counter() - t0,
           "cpus": os.cpu_count(), "load_average": list(os.getloadavg()),
           "families": rows, "totals": totals}
    fam.write_results(a.out, "lofo", doc, markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
