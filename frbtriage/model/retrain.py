"""Retraining behind the gate: fine-tune the live model on what the workspace now knows,
compare it with the live model on a fixed evaluation set, promote it only if it is better.

The labelled candidates of a workspace fall into three groups:

* **known** labels from simulations or imported lists (:data:`frbtriage.db.TRUTH_SOURCES`
  other than ``expert``): hard targets, weight 1;
* **gold**: a researcher's expert label: always in the evaluation set, never trained on;
* **voted**: no known label, but a consensus of volunteers' votes (label source ``votes``,
  :func:`frbtriage.crowd.consensus.aggregate`): a soft target p(astro) with weight
  ``n / (n + 1)`` for ``n`` decisive votes.

Which candidate is evaluated on is fixed by its id (a multiplicative hash, so the split
never changes as new candidates arrive): ``eval_fraction`` of the known and voted ones, plus
all gold, form the evaluation set; of the rest, ``calib_fraction`` fit the temperature and
the others train. Voted candidates train on their soft consensus but are calibrated and
evaluated against it rounded to 0/1, like every other label. The live model and the
retrained one are scored on the same evaluation set; :func:`frbtriage.model.registry.gate`
decides. Every retrained model is saved under ``WS/models/<version>/`` and registered
(``current`` when promoted, ``rejected`` otherwise), with its parent, metrics and what it
was trained on (counts per group and a SHA-256 of the training ids).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from frbtriage.errors import InputError
from frbtriage.model.registry import (
    GateDecision,
    ModelInfo,
    gate,
    list_models,
    live_model,
    register,
)

if TYPE_CHECKING:
    from frbtriage.model.data import LabelledSet
    from frbtriage.workspace import Workspace

#: Where retrained models are kept inside a workspace.
MODELS_DIR = "models"
_HASH = 0x9E3779B1  # Knuth's multiplicative hash constant (2^32 / golden ratio)


@dataclass(frozen=True)
class RetrainConfig:
    """Settings of :func:`retrain`: fine-tuning ``epochs``, peak ``lr``, ``batch_size``,
    ``seed``; ``eval_fraction`` and ``calib_fraction`` of the id-hashed split (see the
    module); ``min_eval`` fewest evaluation candidates of each class; ``device`` torch
    device (None: CUDA when available)."""

    epochs: int = 8
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    eval_fraction: float = 0.2
    calib_fraction: float = 0.15
    min_eval: int = 5
    device: str | None = None

    def check(self) -> None:
        """Raise :class:`InputError` for an impossible setting."""
        if self.epochs < 0 or self.batch_size < 2 or not self.lr > 0 or self.min_eval < 1:
            raise InputError(None, "retrain needs epochs >= 0, batch size >= 2, lr > 0 and "
                                   "min_eval >= 1")
        fr = (self.eval_fraction, self.calib_fraction)
        if not all(0.0 < f < 1.0 for f in fr) or sum(fr) >= 1.0:
            raise InputError(None, f"eval and calibration fractions must lie in (0, 1) and "
                                   f"add up to less than 1, got {fr}")


@dataclass(frozen=True)
class RetrainResult:
    """What :func:`retrain` did: the ``candidate`` model's registry entry (status ``current``
    if promoted, else ``rejected``), the ``live`` version it was compared with, the gate's
    ``decision``, both evaluations on the same set, and the ``counts`` of each split."""

    candidate: ModelInfo
    live: str
    decision: GateDecision
    candidate_metrics: dict[str, Any]
    live_metrics: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        verdict = "promoted" if self.decision.promote else "rejected"
        return (f"retrained {self.candidate.version} from {self.live} on "
                f"{self.counts.get('train', 0)} candidates: {verdict}, "
                f"{self.decision.reason}")


def in_fraction(ids: np.ndarray, fraction: float, salt: int = 0) -> np.ndarray:
    """``(n,)`` bool: whether each candidate id falls in the first ``fraction`` of a fixed
    hash order (the same answer for an id whatever else is in the workspace)."""
    h = ((np.asarray(ids, dtype=np.uint64) + np.uint64(salt)) * np.uint64(_HASH)) \
        & np.uint64(0xFFFFFFFF)
    return h.astype(np.float64) / 2.0**32 < fraction


@dataclass(frozen=True)
class _Split:
    """Candidate ids per split; the voted ones' ``soft`` targets (consensus p, weight
    ``n / (n + 1)``, for training) and ``hard`` ones (consensus rounded, weight 1: the
    temperature is fit, and the models judged, against the same targets)."""

    train: list[int]
    calib: list[int]
    evaluate: list[int]
    soft: dict[int, tuple[float, float]]
    hard: dict[int, tuple[float, float]]
    counts: dict[str, int]


def _split(ws: Workspace, config: RetrainConfig) -> _Split:
    known, gold, voted = [], [], {}
    for rec in ws.candidates():
        if not rec.dmt_available:  # a placeholder dmt would teach the network nonsense
            continue
        truth = rec.truth
        if truth is not None:
            (gold if truth.source == "expert" else known).append(rec.id)
        elif (v := rec.label_from("votes")) is not None:
            voted[rec.id] = (float(v.value), float(v.weight))
    known_a = np.asarray(known, dtype=np.int64)
    voted_a = np.asarray(sorted(voted), dtype=np.int64)
    ev_known = known_a[in_fraction(known_a, config.eval_fraction)]
    ev_voted = voted_a[in_fraction(voted_a, config.eval_fraction)]
    pool = np.concatenate([np.setdiff1d(known_a, ev_known), np.setdiff1d(voted_a, ev_voted)])
    calib = pool[in_fraction(pool, config.calib_fraction / (1 - config.eval_fraction),
                             salt=1)]
    train = np.setdiff1d(pool, calib)
    soft_train = {c: (p, n / (n + 1.0)) for c, (p, n) in voted.items()}
    hard = {c: (float(round(p)), 1.0) for c, (p, _n) in voted.items()}
    counts = {"known": len(known), "gold": len(gold), "voted": len(voted),
              "train": len(train), "calibration": len(calib),
              "evaluation": len(ev_known) + len(ev_voted) + len(gold)}
    return _Split(train.tolist(), calib.tolist(),
                  sorted([*ev_known.tolist(), *ev_voted.tolist(), *gold]),
                  soft_train, hard, counts)


def _check_eval(ev: LabelledSet, min_eval: int, where: Path) -> None:
    pos = int((ev.targets >= 0.5).sum())
    if min(pos, len(ev) - pos) < min_eval:
        raise InputError(where, f"the evaluation set holds {pos} astrophysical and "
                                f"{len(ev) - pos} other candidates; retraining needs at least "
                                f"{min_eval} of each (more labels or votes)")


def _save(network: Any, config: Any, root: Path) -> Path:
    """Save a model into ``root/<version>/`` (written beside it, then renamed)."""
    from frbtriage.model.config import save_model

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    try:
        save_model(network, config, tmp)
        dst = root / config.version
        if dst.exists():  # the same weights were saved before
            shutil.rmtree(tmp)
        else:
            tmp.rename(dst)
        return dst
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def retrain(ws: Workspace, config: RetrainConfig | None = None,
            progress: bool = False) -> RetrainResult:
    """Fine-tune the live model, evaluate it against the live one, register it and promote
    it if the gate says so (see the module). :class:`InputError` when there is too little to
    evaluate on."""
    from frbtriage.model.calibration import fit_temperature
    from frbtriage.model.config import ModelConfig, pick_device
    from frbtriage.model.data import load_labelled
    from frbtriage.model.train import (
        TrainConfig,
        evaluate_logits,
        predict_logits,
        train_ensemble,
    )

    config = config or RetrainConfig()
    config.check()
    device = pick_device(config.device)
    live = live_model(ws, device="cpu")
    arch = live.config.architecture
    split = _split(ws, config)
    ev = load_labelled(ws, arch, ids=split.evaluate, soft_labels=split.hard)
    _check_eval(ev, config.min_eval, ws.path)
    tr = load_labelled(ws, arch, ids=split.train, soft_labels=split.soft)
    cal = load_labelled(ws, arch, ids=split.calib, soft_labels=split.hard)
    if len(tr) < 2 or len(cal) < 2:
        raise InputError(ws.path, f"too few labelled candidates to retrain on ({len(tr)} to "
                                  f"train, {len(cal)} to calibrate)")
    cfg = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                      seed=config.seed, device=str(device))
    network, history = train_ensemble(tr.x, tr.targets, tr.weights, cfg, progress=progress,
                                      init=live.network)
    temperature = fit_temperature(predict_logits(network, cal.x, device=device),
                                  cal.targets, cal.weights)
    logits = predict_logits(network, ev.x, device=device)
    cand_metrics = evaluate_logits(logits, ev.targets, temperature)
    live_metrics = evaluate_logits(predict_logits(live.network, ev.x), ev.targets,
                                   live.config.temperature)
    decision = gate(cand_metrics, live_metrics)
    training = {"parent": live.version, "counts": split.counts,
                "train_ids_sha256": hashlib.sha256(
                    np.asarray(tr.ids, dtype="<i8").tobytes()).hexdigest(),
                "train_config": cfg.to_dict(), "history": history,
                "gate": decision.reason}
    metrics = {"workspace_evaluation": cand_metrics,
               "live_on_workspace_evaluation": live_metrics}
    saved = ModelConfig(architecture=arch, temperature=temperature, training=training,
                        metrics=metrics)
    network.cpu()
    folder = _save(network, saved, ws.path / MODELS_DIR)
    if saved.version == live.version:  # nothing changed (no training step): keep the live one
        decision = GateDecision(False, "the retrained weights equal the live model's")
        info = next(m for m in list_models(ws) if m.version == live.version)
    else:
        info = register(ws, folder, status="current" if decision.promote else "rejected",
                        parent=live.version, training=training, metrics=metrics)
    return RetrainResult(candidate=info, live=live.version, decision=decision,
                         candidate_metrics=cand_metrics, live_metrics=live_metrics,
                         counts=split.counts)
