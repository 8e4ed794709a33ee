"""Per-family evaluation of the shipped model: burst morphologies and interference that
imitates bursts, which its training mixes never held (issue 14).

1. **Data**: CHIME-like 1024-channel observations (DM 50-500, the range of the training's
   1024-channel mix) made by ``frbtriage.simulate`` and prepared into one workspace, as real
   data would be:

   * ``--standard-obs`` observations of the training's own kinds (bursts 20 a minute, the
     default RFI, 20 noise candidates a minute): the **in-distribution** families (``burst``,
     ``rfi_impulse``, ``rfi_narrowband_burst``, ``rfi_drift``, ``noise_candidate``);
   * ``--obs-per-family`` observations per new family (``SimulationConfig.families``:
     ``family_rate`` events a minute of that family, no standard bursts, half the default
     RFI and 10 noise candidates a minute, whose candidates join the in-distribution ones).

   All with ``clean_negatives`` (no burst in a negative's images, as in training); seeds
   from :data:`SEED` on, far from the training's and other benchmarks'.
2. **Scores**: the shipped model (``live_model``, i.e. ``frbtriage/model/default``) scores
   every candidate: p_astro, p_std, BALD. **Dispersion check**: ``frbtriage.dispersion.
   check_candidate`` on each stored ``ft`` image.
3. **Per family** (candidates, as a search lists them; an RFI event may give several):
   ROC AUC (a burst family against the in-distribution negatives; a negative family against
   the in-distribution bursts), the fraction of confident errors (p >= 0.9 on a non-burst,
   p <= 0.1 on a burst), mean p_astro / p_std / BALD, the AUROC with which BALD and p_std tell
   this family from the in-distribution candidates (0.5 = the model is no less sure about
   it; 1 = always less sure), and the dispersion check: the fraction measured and the
   fraction flagged (measured and not the cold-plasma law). **Veto**: p_astro capped at
   :data:`VETO_CAP` where the ranking's rule caps it (:func:`frbtriage.dispersion.vetoes`:
   flagged, with an index error <= :data:`VETO_MAX_ERR`); confident errors left and bursts
   lost.

Writes ``families.json`` and ``families.md`` to ``--out`` (default ``benchmarks/results``).
About 5 minutes with the defaults on 2 shared cores.

    python benchmarks/bench_families.py [--obs-per-family 2] [--standard-obs 4] [--minutes 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from frbtriage.dispersion import VETO_CAP, VETO_MAX_ERR, check_candidate, vetoes
from frbtriage.errors import InputError
from frbtriage.io.candidates import read_candidates
from frbtriage.model.config import load_model
from frbtriage.model.metrics import evaluate, roc_auc
from frbtriage.model.predict import score_workspace
from frbtriage.model.registry import live_model
from frbtriage.prepare import prepare_candidates
from frbtriage.research import scores_of
from frbtriage.simulate import simulate_observation
from frbtriage.simulate.bursts import BURST_FAMILIES
from frbtriage.simulate.observation import FAMILIES, FAMILY_RFI
from frbtriage.simulate.truth import family_of
from frbtriage.workspace import Workspace

RESULTS = Path(__file__).resolve().parent / "results"
#: First simulation seed (far from training, evaluation and the other benchmarks' seeds).
SEED = 14_000_000
#: The families of the training mixes.
IN_DISTRIBUTION = ("burst", "rfi_impulse", "rfi_narrowband_burst", "rfi_drift", "noise_candidate")
#: Confident: p_astro at or above this on a non-burst, at or below 1 minus it on a burst.
CONFIDENT = 0.9
#: What the observations share (the training's 1024-channel mix: DM 50-500).
COMMON: dict[str, Any] = {"nchan": 1024, "dm_range": (50.0, 500.0), "clean_negatives": True}
STANDARD: dict[str, Any] = {"burst_rate": 20.0, "rfi_rate": 1.0, "noise_rate": 20.0}
FAMILY_OBS: dict[str, Any] = {"n_bursts": 0, "rfi_rate": 0.5, "noise_rate": 10.0}


@dataclass(frozen=True)
class Settings:
    """The benchmark's knobs (see ``--help``)."""

    obs_per_family: int = 2
    standard_obs: int = 4
    minutes: float = 0.5
    family_rate: float = 12.0
    threads: int = 2

    def check(self) -> None:
        """Raise :class:`InputError` for an impossible setting."""
        if min(self.obs_per_family, self.standard_obs, self.threads) < 1:
            raise InputError(None, "--obs-per-family, --standard-obs and --threads must be >= 1")
        if not (self.minutes > 0 and self.family_rate > 0):
            raise InputError(None, "--minutes and --family-rate must be > 0")


@dataclass
class Scored:
    """Every prepared candidate, ``(n,)`` arrays: family name, label (1 = burst), p_astro,
    p_std, BALD, dispersion index (NaN when not measured), measured, flagged (measured and not
    the cold-plasma law), vetoed (flagged precisely enough to cap the score)."""

    family: np.ndarray
    label: np.ndarray
    p: np.ndarray
    p_std: np.ndarray
    bald: np.ndarray
    index: np.ndarray
    measured: np.ndarray
    flagged: np.ndarray
    vetoed: np.ndarray


def plan(cfg: Settings) -> list[tuple[str, int, dict[str, Any]]]:
    """(name, seed, simulate options) of every observation."""
    out = []
    seed = SEED
    for i in range(cfg.standard_obs):
        out.append((f"standard-{i}", seed, {**COMMON, **STANDARD}))
        seed += 1
    for fam in FAMILIES:
        for i in range(cfg.obs_per_family):
            out.append((f"{fam}-{i}", seed, {**COMMON, **FAMILY_OBS, "families": (fam,),
                                             "family_rate": cfg.family_rate}))
            seed += 1
    return out


def build(cfg: Settings, root: Path) -> tuple[Workspace, dict[tuple[str, float, float], str]]:
    """Simulate and prepare every observation into ``root/ws``; returns the workspace and
    each candidate's family keyed by (data file, tcand, DM)."""
    ws = Workspace.create(root / "ws")
    family: dict[tuple[str, float, float], str] = {}
    for k, (name, seed, opts) in enumerate(plan(cfg)):
        t0 = time.perf_counter()
        res = simulate_observation(root / name, minutes=cfg.minutes, seed=seed, **opts)
        owner = {i: family_of(r) for r in res.truth for i in r.candidate_rows}
        cands = read_candidates(res.candidates_path)
        for i, c in enumerate(cands):
            family[(str(Path(c.file).resolve()), round(c.tcand, 4), round(c.dm, 3))] = owner[i]
        summary = prepare_candidates(ws, cands, progress=False, label_source="simulation")
        res.fil_path.unlink()
        print(f"  [{k + 1}] {name}: {len(cands)} candidates, {summary.added} prepared "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return ws, family


def score(ws: Workspace, family: dict[tuple[str, float, float], str],
          model_dir: Path | None = None) -> tuple[Scored, str]:
    """Score every candidate with the shipped model (or the one in ``model_dir``) and run the
    dispersion check."""
    model = live_model(ws) if model_dir is None else load_model(model_dir)
    score_workspace(ws, model)
    scores = scores_of(ws, model_version=model.version)
    rows: list[tuple[Any, ...]] = []
    for rec in ws.candidates():
        fam = family[(str(Path(rec.file).resolve()), round(rec.tcand, 4), round(rec.dm, 3))]
        ft, _ = ws.candidate_images(rec.id)
        chk = check_candidate(rec, ft)
        s = scores[rec.id]
        rows.append((fam, int(rec.label or 0), s.p_astro, s.p_std, s.bald, chk.index,
                     chk.measured, chk.consistent is False,
                     vetoes(chk.index, chk.err, chk.delay_s)))
    cols = list(zip(*rows, strict=True))
    return Scored(np.array(cols[0]), *(np.array(c) for c in cols[1:])), model.version


def _auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    if not (pos.size and neg.size):
        return None
    return roc_auc(np.concatenate([pos, neg]), np.r_[np.ones(pos.size), np.zeros(neg.size)])


def _confident_errors(p: np.ndarray, label: np.ndarray) -> np.ndarray:
    return np.where(label == 1, p <= 1 - CONFIDENT, p >= CONFIDENT)


def family_row(sc: Scored, fam: str) -> dict[str, Any]:
    """The per-family numbers (see the module doc)."""
    sel = sc.family == fam
    ind = np.isin(sc.family, IN_DISTRIBUTION)
    is_burst = bool(sc.label[sel].mean() > 0.5) if sel.any() else fam in BURST_FAMILIES
    ind_bursts = sc.p[ind & (sc.label == 1) & ~sel]
    ind_neg = sc.p[ind & (sc.label == 0) & ~sel]
    p = sc.p[sel]
    auc = _auc(p, ind_neg) if is_burst else _auc(ind_bursts, p)
    capped = np.where(sc.vetoed[sel], np.minimum(p, VETO_CAP), p)
    row: dict[str, Any] = {
        "family": fam, "in_distribution": fam in IN_DISTRIBUTION, "burst": is_burst,
        "n": int(sel.sum()), "auc": auc,
        "confident_errors": float(_confident_errors(p, sc.label[sel]).mean()) if p.size else None,
        "mean_p_astro": float(p.mean()) if p.size else None,
        "mean_p_std": float(sc.p_std[sel].mean()) if p.size else None,
        "mean_bald": float(sc.bald[sel].mean()) if p.size else None,
        "measured": float(sc.measured[sel].mean()) if p.size else None,
        "flagged": float(sc.flagged[sel].mean()) if p.size else None,
        "median_index": float(np.nanmedian(sc.index[sel])) if sc.measured[sel].any() else None,
        "veto_confident_errors": float(_confident_errors(capped, sc.label[sel]).mean())
        if p.size else None,
        "veto_bursts_capped": int((sc.vetoed[sel] & (sc.label[sel] == 1)).sum()),
        "veto_bursts_lost": int((sc.vetoed[sel] & (sc.label[sel] == 1) & (p >= VETO_CAP)).sum()),
    }
    if fam not in IN_DISTRIBUTION and sel.any():
        unseen = np.r_[np.ones(sel.sum()), np.zeros(ind.sum())]
        row["bald_auroc_unseen"] = roc_auc(np.r_[sc.bald[sel], sc.bald[ind]], unseen)
        row["p_std_auroc_unseen"] = roc_auc(np.r_[sc.p_std[sel], sc.p_std[ind]], unseen)
    return row


def summarise(sc: Scored) -> dict[str, Any]:
    """Per-family rows and the totals over everything and over the in-distribution part."""
    rows = [family_row(sc, f) for f in (*IN_DISTRIBUTION, *FAMILIES)]
    ind = np.isin(sc.family, IN_DISTRIBUTION)
    imitators = np.isin(sc.family, FAMILY_RFI)
    new_bursts = np.isin(sc.family, BURST_FAMILIES)
    capped = np.where(sc.vetoed, np.minimum(sc.p, VETO_CAP), sc.p)
    err, err_v = _confident_errors(sc.p, sc.label), _confident_errors(capped, sc.label)
    bursts = sc.label == 1

    def overall(mask: np.ndarray, p: np.ndarray) -> dict[str, Any]:
        ev = evaluate(p[mask], sc.label[mask].astype(float))
        return {"n": ev["n"], "bursts": ev["n_positive"], "roc_auc": ev["roc_auc"],
                "recall_at_1pct_fpr": ev["recall_at_1pct_fpr"]["recall"], "ece": ev["ece"]}

    return {
        "families": rows,
        "overall": {"all": overall(np.ones(sc.p.size, bool), sc.p),
                    "in_distribution": overall(ind, sc.p),
                    "all_with_veto": overall(np.ones(sc.p.size, bool), capped)},
        "veto": {
            "imitator_confident_errors": int(err[imitators].sum()),
            "imitator_confident_errors_after": int(err_v[imitators].sum()),
            "imitators": int(imitators.sum()),
            "bursts_flagged": int((sc.flagged & bursts).sum()),
            "bursts_lost_above_cap": int((sc.vetoed & bursts & (sc.p >= VETO_CAP)).sum()),
            "bursts_lost_confident": int((sc.vetoed & bursts & (sc.p >= CONFIDENT)).sum()),
            "bursts": int(bursts.sum()),
            "in_distribution_bursts_flagged": int((sc.flagged & bursts & ind).sum()),
            "new_family_bursts_flagged": int((sc.flagged & bursts & new_bursts).sum()),
        },
    }


def _f(x: Any, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def markdown(doc: dict[str, Any]) -> str:
    """The tables of ``families.md``."""
    s, o, v = doc["settings"], doc["summary"]["overall"], doc["summary"]["veto"]
    which = ("today's shipped model, trained before these families existed"
             if doc.get("model_dir") is None else f"from `{doc['model_dir']}`, `--model`")
    whose = "the shipped model" if doc.get("model_dir") is None else "a model given by --model"
    lines = [
        f"# Per-family evaluation of {whose} (issue 14)", "",
        f"Model `{doc['model']}` ({which}), `python benchmarks/bench_families.py` "
        f"({s['obs_per_family']} observations "
        f"per new family, {s['standard_obs']} standard ones, {s['minutes']} min each, "
        f"1024 channels, DM 50-500, {doc['seconds']:.0f} s on {doc['cpus']} CPUs, load "
        f"average {', '.join(f'{x:.1f}' for x in doc['load_average_1_5_15min'])} at the end).",
        "",
        "| set | candidates (bursts) | ROC AUC | recall at 1 % FPR | ECE |",
        "|---|---|---|---|---|",
    ]
    for name, key in (("in-distribution families only", "in_distribution"),
                      ("everything", "all"),
                      ("everything, with the dispersion veto", "all_with_veto")):
        r = o[key]
        lines.append(f"| {name} | {r['n']} ({r['bursts']}) | {r['roc_auc']:.4f} | "
                     f"{r['recall_at_1pct_fpr']:.3f} | {r['ece']:.3f} |")
    lines += [
        "", "AUC: a burst family against the in-distribution negatives, a negative family "
        "against the in-distribution bursts. Confident error: p >= 0.9 on a non-burst, p <= 0.1 "
        "on a burst. BALD / p_std AUROC: how well the uncertainty tells this family from the "
        "in-distribution candidates (0.5: the model is no less sure). Dispersion: fraction "
        "of candidates whose index was measured, and flagged (measured and not 2 within its "
        "errors, or low frequencies first).", "",
        "| family | burst? | n | AUC | confident errors | mean p_astro | mean p_std | mean BALD "
        "| BALD AUROC unseen | p_std AUROC unseen | measured | flagged | median index "
        "| confident errors with veto |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["summary"]["families"]:
        name = r["family"] + (" (in-dist.)" if r["in_distribution"] else "")
        lines.append(
            f"| {name} | {'yes' if r['burst'] else 'no'} | {r['n']} | {_f(r['auc'])} | "
            f"{_f(r['confident_errors'], '.2f')} | {_f(r['mean_p_astro'], '.2f')} | "
            f"{_f(r['mean_p_std'])} | {_f(r['mean_bald'])} | "
            f"{_f(r.get('bald_auroc_unseen'), '.2f')} | {_f(r.get('p_std_auroc_unseen'), '.2f')} "
            f"| {_f(r['measured'], '.2f')} | {_f(r['flagged'], '.2f')} | "
            f"{_f(r['median_index'], '.2f')} | {_f(r['veto_confident_errors'], '.2f')} |")
    lines += [
        "", f"**Veto** (p_astro capped at {VETO_CAP} when the index is measured to within "
        f"+-{VETO_MAX_ERR} and not consistent): confident errors on the "
        f"{v['imitators']} imitator candidates "
        f"{v['imitator_confident_errors']} -> {v['imitator_confident_errors_after']}; of "
        f"{v['bursts']} bursts {v['bursts_flagged']} flagged "
        f"({v['in_distribution_bursts_flagged']} standard, "
        f"{v['new_family_bursts_flagged']} of the new morphologies), "
        f"{v['bursts_lost_above_cap']} of them pushed below p = {VETO_CAP} "
        f"({v['bursts_lost_confident']} had p >= {CONFIDENT}).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--obs-per-family", type=int, default=Settings.obs_per_family)
    ap.add_argument("--standard-obs", type=int, default=Settings.standard_obs)
    ap.add_argument("--minutes", type=float, default=Settings.minutes)
    ap.add_argument("--family-rate", type=float, default=Settings.family_rate,
                    help="events of the family a minute in its observations")
    ap.add_argument("--threads", type=int, default=Settings.threads, help="torch threads")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--model", type=Path, default=None, metavar="DIR",
                    help="score with this model folder (default: the shipped model)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="build the workspace here and keep it (default: a temporary folder)")
    a = ap.parse_args(argv)
    cfg = Settings(a.obs_per_family, a.standard_obs, a.minutes, a.family_rate, a.threads)
    try:
        cfg.check()
    except InputError as err:
        print(f"bench_families: error: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    root = a.keep or Path(tempfile.mkdtemp(prefix="bench_families_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        ws, family = build(cfg, root)
        with ws:
            sc, version = score(ws, family, a.model)
    finally:
        if a.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    doc = {"settings": asdict(cfg), "model": version,
           "model_dir": None if a.model is None else str(a.model),
           "seconds": time.perf_counter() - t0,
           "cpus": os.cpu_count(), "load_average_1_5_15min": list(os.getloadavg()),
           "python": platform.python_version(), "torch": torch.__version__,
           "summary": summarise(sc),
           "candidates": {"family": sc.family.tolist(), "label": sc.label.tolist(),
                          "p_astro": sc.p.round(5).tolist(), "p_std": sc.p_std.round(5).tolist(),
                          "bald": sc.bald.round(5).tolist(),
                          "index": [None if not np.isfinite(x) else round(float(x), 4)
                                    for x in sc.index], "flagged": sc.flagged.tolist(),
                          "vetoed": sc.vetoed.tolist()}}
    write_results(a.out, "families", doc, markdown(doc))
    return 0


def write_results(out: Path, stem: str, doc: dict[str, Any], md: str) -> None:
    """``out/STEM.json`` (``doc``) and ``out/STEM.md`` (``md``, also printed)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / f"{stem}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    raise SystemExit(main())
