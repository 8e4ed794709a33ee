"""Evaluation of a scorer on labelled candidates: ROC, precision/recall, ECE, plots.

All functions take ``scores`` (n,) probabilities in [0, 1] and ``labels`` (n,) in {0, 1}
(soft labels are thresholded at 0.5 where a hard label is needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

from frbtriage.safe_write import replacing


def _hard(labels: np.ndarray) -> np.ndarray:
    return (np.asarray(labels, dtype=np.float64) >= 0.5).astype(np.int64)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties count half); NaN if one class is absent."""
    y = _hard(labels)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)``, each ``(m,)``, for thresholds ``score >= t`` from high to low.

    Starts at (0, 0) with threshold +inf; ties in the scores produce one point.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = _hard(labels)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    n_pos, n_neg = max(int(y.sum()), 1), max(len(y) - int(y.sum()), 1)
    return (np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos], np.r_[np.inf, s[last]])


def recall_at_fpr(scores: np.ndarray, labels: np.ndarray,
                  max_fpr: float = 0.01) -> dict[str, float]:
    """Highest recall (TPR) with false-positive rate <= ``max_fpr``, and the threshold giving it."""
    fpr, tpr, thr = roc_curve(scores, labels)
    ok = np.nonzero(fpr <= max_fpr)[0]
    i = ok[np.argmax(tpr[ok])]
    return {"recall": float(tpr[i]), "fpr": float(fpr[i]), "threshold": float(thr[i])}


def precision_recall_at(scores: np.ndarray, labels: np.ndarray,
                        thresholds: tuple[float, ...] = (0.1, 0.5, 0.9)) -> list[dict[str, float]]:
    """Precision, recall and FPR of the rule ``score >= t`` for each ``t``."""
    s = np.asarray(scores, dtype=np.float64)
    y = _hard(labels)
    out = []
    for t in thresholds:
        pred = s >= t
        tp = int((pred & (y == 1)).sum())
        fp = int((pred & (y == 0)).sum())
        fn = int((~pred & (y == 1)).sum())
        tn = int((~pred & (y == 0)).sum())
        out.append({
            "threshold": float(t),
            "precision": tp / (tp + fp) if tp + fp else float("nan"),
            "recall": tp / (tp + fn) if tp + fn else float("nan"),
            "fpr": fp / (fp + tn) if fp + tn else float("nan"),
        })
    return out


def reliability(scores: np.ndarray, labels: np.ndarray,
                n_bins: int = 15) -> dict[str, np.ndarray]:
    """Equal-width bins on [0, 1]: per bin ``count``, mean ``confidence``, observed ``frequency``.

    ``labels`` may be soft (the observed frequency is then their mean). Arrays are ``(n_bins,)``;
    empty bins have NaN confidence/frequency.
    """
    s = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64)
    idx = np.minimum((s * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(idx, weights=s, minlength=n_bins) / count
        freq = np.bincount(idx, weights=y, minlength=n_bins) / count
    return {"edges": np.linspace(0, 1, n_bins + 1), "count": count, "confidence": conf,
            "frequency": freq}


def expected_calibration_error(scores: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE: count-weighted mean of ``|frequency - confidence|`` over equal-width bins."""
    r = reliability(scores, labels, n_bins)
    ok = r["count"] > 0
    if not ok.any():
        return float("nan")
    gap = np.abs(r["frequency"][ok] - r["confidence"][ok])
    return float((r["count"][ok] * gap).sum() / r["count"][ok].sum())


def evaluate(scores: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """All headline numbers as a JSON-serialisable dict."""
    y = _hard(labels)
    return {
        "n": int(len(y)),
        "n_positive": int(y.sum()),
        "roc_auc": roc_auc(scores, labels),
        "recall_at_1pct_fpr": recall_at_fpr(scores, labels, 0.01),
        "ece": expected_calibration_error(scores, labels),
        "precision_recall": precision_recall_at(scores, labels),
    }


def plot_evaluation(scores: np.ndarray, labels: np.ndarray, out_dir: str | Path,
                    title: str = "", prefix: str = "") -> list[Path]:
    """Write ``{prefix}roc.png`` and ``{prefix}reliability.png`` into ``out_dir``; returns
    their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fpr, tpr, _ = roc_curve(scores, labels)
    auc = roc_auc(scores, labels)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fpr, tpr, lw=1.5, label=f"AUC = {auc:.4f}")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.axvline(0.01, ls="--", c="tab:red", lw=0.8, label="FPR = 1%")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("recall (true-positive rate)")
    ax.set_title(f"ROC {title}".strip())
    ax.legend(loc="lower right")
    fig.tight_layout()
    roc_path = out / f"{prefix}roc.png"
    with replacing(roc_path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)

    r = reliability(scores, labels)
    ece = expected_calibration_error(scores, labels)
    centres = 0.5 * (r["edges"][1:] + r["edges"][:-1])
    ok = r["count"] > 0
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(4.5, 5.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls=":", c="grey", label="perfect calibration")
    ax.plot(r["confidence"][ok], r["frequency"][ok], "o-", label=f"model (ECE = {ece:.3f})")
    ax.set_ylabel("observed fraction of bursts")
    ax.set_title(f"Reliability {title}".strip())
    ax.legend(loc="upper left")
    ax2.bar(centres, r["count"], width=1 / len(centres), color="tab:blue", alpha=0.6)
    ax2.set_yscale("log")
    ax2.set_xlabel("predicted p(astro)")
    ax2.set_ylabel("count")
    fig.tight_layout()
    rel_path = out / f"{prefix}reliability.png"
    with replacing(rel_path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return [roc_path, rel_path]
