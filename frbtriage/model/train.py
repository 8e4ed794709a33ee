"""Training the ensemble on in-memory pooled images, calibrating it, and evaluating it.

The workspace side (simulate -> prepare -> load arrays + labels) lives in
:mod:`frbtriage.model.pipeline`; this module only sees arrays:

* ``x``: ``(n, views, rows, cols)`` float32, pooled ``ft`` and ``dmt`` and, with the zoom
  view, their pooled central crops (see :func:`pool_images`);
* ``targets``: ``(n,)`` float32 in [0, 1], the probability that the candidate is
  astrophysical: 0/1 for simulations and hand labels, a vote fraction for volunteer votes;
* ``weights``: ``(n,)`` float32 >= 0, how much evidence stands behind the target (1 for a
  simulated or hand-labelled candidate, the number of votes for a voted one).

Loss (designed for soft labels and vote counts): for member ``k`` with logit ``z_k``,
``L = sum_i w_i b_ik BCE(z_ik, y_i) / sum_i w_i b_ik`` with
``BCE(z, y) = -y log sigmoid(z) - (1-y) log(1 - sigmoid(z))``, summed over members.
BCE on a soft target ``y`` is minimised at ``sigmoid(z) = y``, so a 7-to-3 vote trains
towards 0.7 rather than a hard label, and a candidate with 10 votes counts 10 times as
much as one with a single vote. ``b_ik ~ Poisson(1)`` are fixed per-member bootstrap
weights that, with independent initialisations and augmentations, decorrelate the
ensemble members.

On CUDA the pooled training set (a few MB) is moved to the GPU once, so batches never wait
for host-to-device copies, and the forward pass runs under bfloat16 autocast.

Determinism: one ``seed`` fixes initialisation, the split, bootstrap weights, batch order and
every augmentation (all drawn from seeded ``torch.Generator`` s in the main process),
and ``torch.use_deterministic_algorithms(True)`` is on while training.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from frbtriage.model.augment import AugmentConfig, augment
from frbtriage.model.calibration import ensemble_stats, fit_temperature
from frbtriage.model.config import ModelConfig, save_model
from frbtriage.model.metrics import evaluate, plot_evaluation
from frbtriage.model.network import IMAGE_SIZE, Architecture, EnsembleCNN
from frbtriage.safe_write import write_text

log = logging.getLogger(__name__)

#: The evaluation report in a model folder (metrics, temperature, training curve).
EVALUATION_NAME = "evaluation.json"


@dataclass
class TrainConfig:
    """Optimisation settings. ``calib_fraction``/``test_fraction`` of the data are held out
    (stratified by hard label) for temperature scaling and for the evaluation report."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    calib_fraction: float = 0.15
    test_fraction: float = 0.15
    bootstrap: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        d = dict(self.__dict__)
        d["augment"] = self.augment.to_dict()
        return d


def pool_images(ft: np.ndarray, dmt: np.ndarray, arch: Architecture) -> np.ndarray:
    """The pooled views of ``ft``, ``dmt`` ``(n, S, S)`` that ``arch``'s network sees:
    ``(n, arch.n_inputs, rows, cols)`` float32, i.e. ``ft`` and ``dmt`` mean-pooled to
    ``arch.input_shape`` and, with ``arch.zoom``, their central ``zoom * S / 256`` time
    columns pooled to the same shape; with ``arch.centre_rows`` each image's rows are first
    centred and the image scaled to unit std (see :mod:`frbtriage.model.network`).

    Rows and columns must divide ``S`` (columns also the zoom crop). The result equals what
    :meth:`EnsembleCNN.stack` computes inside the network.
    """
    rows, cols = arch.input_shape
    ft = np.asarray(ft, dtype=np.float32)
    dmt = np.asarray(dmt, dtype=np.float32)
    n, size = ft.shape[0], ft.shape[-1]
    z = arch.zoom * size // IMAGE_SIZE
    if (size % rows or size % cols or ft.shape[1:] != (size, size) or dmt.shape != ft.shape
            or (arch.zoom and (z < cols or z % cols))):
        raise ValueError(f"images must be (n, S, S) with S a multiple of {rows} and {cols} "
                         f"(and a zoom crop of {z} columns a multiple of {cols}), "
                         f"got {ft.shape} and {dmt.shape}")
    if arch.centre_rows:
        ft, dmt = _centre_rows(ft), _centre_rows(dmt)
    views = [ft, dmt]
    if arch.zoom:
        c0 = (size - z) // 2
        views += [ft[..., c0:c0 + z], dmt[..., c0:c0 + z]]
    out = np.empty((n, len(views), rows, cols), dtype=np.float32)
    for c, img in enumerate(views):
        fr, fc = img.shape[1] // rows, img.shape[2] // cols
        out[:, c] = img.reshape(n, rows, fr, cols, fc).mean(axis=(2, 4))
    return out


def _centre_rows(img: np.ndarray) -> np.ndarray:
    """Rows of ``(n, S, T)`` images centred, each image scaled to unit std (float64 sums):
    the plain reference for :meth:`frbtriage.model.network.EnsembleCNN.stack`."""
    out = img - img.mean(axis=-1, keepdims=True, dtype=np.float64)
    std = out.std(axis=(-2, -1), keepdims=True, ddof=1).clip(min=1e-6)
    return (out / std).astype(np.float32)


def split_indices(targets: np.ndarray, seed: int, calib_fraction: float,
                  test_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified (by hard label) random split into train, calibration and test index arrays."""
    rng = np.random.default_rng(seed)
    hard = np.asarray(targets) >= 0.5
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in (False, True):
        idx = np.nonzero(hard == cls)[0]
        idx = idx[rng.permutation(len(idx))]
        n_cal = int(round(calib_fraction * len(idx)))
        n_test = int(round(test_fraction * len(idx)))
        parts[1].append(idx[:n_cal])
        parts[2].append(idx[n_cal:n_cal + n_test])
        parts[0].append(idx[n_cal + n_test:])
    train, calib, test = (np.sort(np.concatenate(p)) for p in parts)
    return train, calib, test


def weighted_bce_loss(logits: torch.Tensor, targets: torch.Tensor,
                      weights: torch.Tensor) -> torch.Tensor:
    """Ensemble loss: ``sum_{i,k} w_ik BCE(z_ik, y_i) / sum_{i,k} w_ik * members``.

    ``logits`` ``(n, members)``, ``targets`` ``(n,)`` in [0, 1], ``weights`` ``(n, members)``.
    (Normalised per member, then summed over members.)
    """
    y = targets[:, None].expand_as(logits)
    loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    per_member = (weights * loss).sum(0) / weights.sum(0).clamp_min(1e-8)
    return per_member.sum()


@torch.inference_mode()
def predict_logits(network: EnsembleCNN, x: np.ndarray | torch.Tensor, batch_size: int = 512,
                   device: torch.device | str = "cpu") -> np.ndarray:
    """Logits ``(n, members)`` float32 for pooled views ``x`` ``(n, n_inputs, rows, cols)``."""
    dev = torch.device(device)
    network.eval().to(dev)
    xt = torch.as_tensor(x)
    out = []
    for i in range(0, len(xt), batch_size):
        xb = xt[i:i + batch_size].to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=dev.type == "cuda"):
            out.append(network.forward_stacked(xb).float().cpu())
    if not out:
        return np.zeros((0, network.arch.members), dtype=np.float32)
    return torch.cat(out).numpy()


def train_ensemble(x: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                   cfg: TrainConfig, arch: Architecture | None = None,
                   progress: bool = False, init: EnsembleCNN | None = None,
                   ) -> tuple[EnsembleCNN, list[dict[str, float]]]:
    """Train an :class:`EnsembleCNN` on pooled views ``x (n, n_inputs, rows, cols)``: a fresh
    one, or (``init``) a copy of ``init`` fine-tuned (its architecture is used; ``init``
    itself is not changed). Returns it (eval mode) and the per-epoch history (mean training
    loss, seconds)."""
    arch = init.arch if init is not None else (arch or Architecture())
    want = (arch.n_inputs, *arch.input_shape)
    if x.ndim != 4 or x.shape[1:] != want:
        raise ValueError(f"x must be (n, {', '.join(map(str, want))}), got {x.shape}")
    if len(x) == 0:
        raise ValueError("no training candidates")
    dev = torch.device(cfg.device)
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=dev.type == "cuda")
    try:
        torch.manual_seed(cfg.seed)
        network = EnsembleCNN(arch)
        if init is not None:
            network.load_state_dict(init.state_dict())
        network = network.to(dev)
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        k = arch.members
        n = len(x)
        boot = (torch.poisson(torch.ones(n, k), generator=gen) if cfg.bootstrap
                else torch.ones(n, k))
        w_all = torch.as_tensor(weights, dtype=torch.float32)[:, None] * boot
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(targets, dtype=torch.float32)
        if dev.type == "cuda":  # the training set is small once pooled: keep it on the GPU
            xt, yt, w_all = xt.to(dev), yt.to(dev), w_all.to(dev)
        steps_per_epoch = math.ceil(n / cfg.batch_size)
        total = max(cfg.epochs * steps_per_epoch, 1)
        opt = torch.optim.AdamW(network.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        warm = max(1, min(100, total // 10))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * s / total)))
        history = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, desc="training", unit="batch")
        for epoch in range(cfg.epochs):
            network.train()
            t0 = time.perf_counter()
            order = torch.randperm(n, generator=gen)
            losses = []
            for s in range(steps_per_epoch):
                idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                if len(idx) < 2:  # batch norm needs two samples
                    continue
                idx_d = idx.to(xt.device)
                xb = xt[idx_d]
                b = len(idx)
                xb = xb[:, None].expand(b, k, *xb.shape[1:]).reshape(b * k, *xb.shape[1:])
                xb = augment(xb, gen, cfg.augment).reshape(b, k, *xb.shape[1:])
                with torch.autocast(device_type=dev.type, dtype=torch.bfloat16,
                                    enabled=dev.type == "cuda"):  # mixed precision on GPUs
                    logits = network.forward_stacked(xb)
                loss = weighted_bce_loss(logits.float(), yt[idx_d], w_all[idx_d])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()) / k)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}")
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else 0.0,
                            "seconds": time.perf_counter() - t0})
            log.info("epoch %d: loss %.4f (%.1f s)", epoch + 1, history[-1]["loss"],
                     history[-1]["seconds"])
        if bar is not None:
            bar.close()
    finally:
        torch.use_deterministic_algorithms(prev_det)
    network.eval()
    return network, history


def evaluate_logits(logits: np.ndarray, targets: np.ndarray, temperature: float) -> dict[str, Any]:
    """Headline metrics of the calibrated ensemble mean on labelled logits ``(n, members)``."""
    stats = ensemble_stats(logits, temperature)
    out = evaluate(stats["p_astro"], targets)
    out["mean_p_std"] = float(stats["p_std"].mean()) if len(targets) else float("nan")
    out["mean_bald"] = float(stats["bald"].mean()) if len(targets) else float("nan")
    return out


def fit_calibrate_evaluate(x: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                           cfg: TrainConfig, out_dir: str | Path,
                           arch: Architecture | None = None,
                           training_description: dict[str, Any] | None = None,
                           progress: bool = False) -> tuple[EnsembleCNN, ModelConfig]:
    """Split, train, fit the temperature on the calibration split, evaluate on the test split,
    save the model and the evaluation (``evaluation.json``, ``roc.png``, ``reliability.png``)
    into ``out_dir``. Returns the network and its saved config."""
    arch = arch or Architecture()
    train_idx, calib_idx, test_idx = split_indices(targets, cfg.seed, cfg.calib_fraction,
                                                   cfg.test_fraction)
    t0 = time.perf_counter()
    network, history = train_ensemble(x[train_idx], targets[train_idx], weights[train_idx], cfg,
                                      arch, progress=progress)
    train_seconds = time.perf_counter() - t0
    dev = torch.device(cfg.device)
    calib_logits = predict_logits(network, x[calib_idx], device=dev)
    temperature = fit_temperature(calib_logits, targets[calib_idx], weights[calib_idx])
    test_logits = predict_logits(network, x[test_idx], device=dev)
    held_out = evaluate_logits(test_logits, targets[test_idx], temperature)
    held_out["uncalibrated_ece"] = evaluate_logits(test_logits, targets[test_idx], 1.0)["ece"]
    metrics = {"held_out": held_out}
    description = dict(training_description or {})
    description.update({
        "n_candidates": int(len(x)), "n_train": int(len(train_idx)),
        "n_calibration": int(len(calib_idx)), "n_test": int(len(test_idx)),
        "n_positive": int((targets >= 0.5).sum()),
        "train_config": cfg.to_dict(), "train_seconds": round(train_seconds, 1),
        "torch": torch.__version__,
        "loss": "per-member bootstrap- and vote-weighted BCE on soft targets",
        "final_loss": history[-1]["loss"] if history else None,
    })
    config = ModelConfig(architecture=arch, temperature=temperature, training=description,
                         metrics=metrics)
    out = Path(out_dir)
    network.cpu()
    save_model(network, config, out)
    write_evaluation(out, metrics, history, test_logits, targets[test_idx], temperature,
                     config.version)
    return network, config


def write_evaluation(out_dir: Path, metrics: dict[str, Any], history: list[dict[str, float]],
                     logits: np.ndarray, targets: np.ndarray, temperature: float,
                     version: str) -> None:
    """``evaluation.json`` (metrics, temperature, training curve) and the two PNGs."""
    p = ensemble_stats(logits, temperature)["p_astro"]
    if len(p) and 0 < (targets >= 0.5).sum() < len(p):
        plot_evaluation(p, targets, out_dir, title="(held-out split)")
    doc = {"model_version": version, "temperature": temperature, "metrics": metrics,
           "history": history}
    write_text(out_dir / EVALUATION_NAME, json.dumps(doc, indent=2) + "\n")


def add_evaluation_metrics(out_dir: Path, metrics: dict[str, Any]) -> None:
    """Merge ``metrics`` into the ``metrics`` of ``out_dir``'s ``evaluation.json``
    (written by :func:`write_evaluation`), replacing the file safely."""
    path = Path(out_dir) / EVALUATION_NAME
    doc = json.loads(path.read_text())
    doc["metrics"].update(metrics)
    write_text(path, json.dumps(doc, indent=2) + "\n")
