"""Batched inference: candidate images in, calibrated p(astro) with uncertainty out.

Works on any array-likes that slice like numpy along the first axis (numpy arrays, zarr
arrays from the workspace, h5py datasets). Images are read one batch at a time by a
``torch.utils.data.DataLoader``: on CUDA it uses worker processes and pinned memory
so reading the next batch overlaps with the GPU computing this one, and inference runs
under ``torch.autocast`` (float16); on the CPU a background thread reads the next batch
while the current one is computed, in float32.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from frbtriage.model.calibration import ensemble_stats
from frbtriage.model.config import LoadedModel

if TYPE_CHECKING:
    from frbtriage.workspace import Workspace


@dataclass
class Scores:
    """Per-candidate outputs, each ``(n,)`` float64: calibrated mean ``p_astro`` over the
    ensemble, member spread ``p_std``, and ``bald`` mutual information (nats, 0..ln 2)."""

    p_astro: np.ndarray
    p_std: np.ndarray
    bald: np.ndarray

    def __len__(self) -> int:
        return len(self.p_astro)


class _BatchSlices(Dataset):
    """Item ``j`` = images ``[j*B:(j+1)*B]`` (or the rows ``indices[...]``) as float32 tensors."""

    def __init__(self, ft: Any, dmt: Any, batch_size: int, indices: Sequence[int] | None) -> None:
        self.ft, self.dmt, self.bs = ft, dmt, batch_size
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)
        self.n = len(ft) if indices is None else len(self.indices)

    def __len__(self) -> int:
        return (self.n + self.bs - 1) // self.bs

    def _take(self, arr: Any, j: int) -> np.ndarray:
        lo, hi = j * self.bs, min((j + 1) * self.bs, self.n)
        if self.indices is None:
            return np.asarray(arr[lo:hi], dtype=np.float32)
        rows = self.indices[lo:hi]
        if len(rows) and np.all(np.diff(rows) == 1):  # contiguous: one slice read
            return np.asarray(arr[int(rows[0]):int(rows[-1]) + 1], dtype=np.float32)
        return np.stack([np.asarray(arr[int(r)], dtype=np.float32) for r in rows]) if len(
            rows) else np.zeros((0,) + tuple(arr.shape[1:]), np.float32)

    def __getitem__(self, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self._take(self.ft, j)), torch.from_numpy(self._take(self.dmt, j))


def _prefetched(ds: _BatchSlices) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of ``ds`` in order, the next one read by a background thread while the caller
    computes on this one (zarr decompression and torch both release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    if len(ds) == 0:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-read") as pool:
        nxt = pool.submit(ds.__getitem__, 0)
        for j in range(len(ds)):
            cur = nxt.result()
            if j + 1 < len(ds):
                nxt = pool.submit(ds.__getitem__, j + 1)
            yield cur


def _loader(ft: Any, dmt: Any, batch_size: int, indices: Sequence[int] | None,
            device: torch.device, workers: int | None) -> DataLoader:
    cuda = device.type == "cuda"
    if workers is None:
        workers = min(4, os.cpu_count() or 1) if cuda else 0
    return DataLoader(_BatchSlices(ft, dmt, batch_size, indices), batch_size=None, shuffle=False,
                      num_workers=workers, pin_memory=cuda, persistent_workers=False,
                      prefetch_factor=4 if workers else None)


@torch.inference_mode()
def predict_logits_images(model: LoadedModel, ft: Any, dmt: Any, *,
                          indices: Sequence[int] | None = None, batch_size: int = 256,
                          device: str | torch.device | None = None, workers: int | None = None,
                          progress: bool = False) -> np.ndarray:
    """Raw ensemble logits ``(n, members)`` float32 for images ``ft``, ``dmt`` ``(N, 256, 256)``
    (all rows, or only ``indices``)."""
    from frbtriage.model.config import pick_device

    dev = pick_device(str(device) if device is not None else None)
    net = model.network.to(dev).eval()
    loader = _loader(ft, dmt, batch_size, indices, dev, workers)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=loader.dataset.n, desc="scoring", unit="cand")
    out = []
    for ft_b, dmt_b in (_prefetched(loader.dataset) if loader.num_workers == 0 else loader):
        ft_b = ft_b.to(dev, non_blocking=True)
        dmt_b = dmt_b.to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=dev.type == "cuda"):
            out.append(net(ft_b, dmt_b).float().cpu())
        if bar is not None:
            bar.update(len(ft_b))
    if bar is not None:
        bar.close()
    if not out:
        return np.zeros((0, model.config.architecture.members), dtype=np.float32)
    return torch.cat(out).numpy()


def score_images(model: LoadedModel, ft: Any, dmt: Any, *, indices: Sequence[int] | None = None,
                 batch_size: int = 256, device: str | torch.device | None = None,
                 workers: int | None = None, progress: bool = False) -> Scores:
    """Calibrated :class:`Scores` for images ``ft``, ``dmt`` ``(N, 256, 256)`` (FETCH
    normalisation, row 0 = highest frequency / lowest DM trial), or only the rows ``indices``."""
    logits = predict_logits_images(model, ft, dmt, indices=indices, batch_size=batch_size,
                                   device=device, workers=workers, progress=progress)
    s = ensemble_stats(logits, model.config.temperature)
    return Scores(p_astro=s["p_astro"], p_std=s["p_std"], bald=s["bald"])


def score_workspace(ws: Workspace, model: LoadedModel, *, ids: Sequence[int] | None = None,
                    batch_size: int = 256,
                    device: str | torch.device | None = None, commit_every: int = 4096,
                    progress: bool = False) -> int:
    """Score every candidate of workspace ``ws`` (or only those with ``ids``) that
    ``model``'s version has not scored yet.

    Scores are committed to the database every ``commit_every`` candidates (one
    transaction each), so an interrupted run keeps what it finished and a re-run continues.
    The model is registered in the ``models`` table (path, sha256, metrics; status
    ``"candidate"`` if new). Returns the number of candidates scored.
    """
    import json

    from frbtriage import db

    version = model.version
    with ws.session() as s, s.begin():
        known = s.get(db.ModelRecord, version)
        db.register_model(
            s, version, path=str(model.path), sha256=model.config.weights_sha256,
            status=known.status if known is not None else "candidate",
            metrics=json.dumps(model.config.metrics), parent=None if known is None else
            known.parent)
    with ws.session() as s:
        todo = db.unscored_candidates(s, version, ids=ids)
    if not todo:
        return 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"scoring ({version})", unit="cand")
    done = 0
    for lo in range(0, len(todo), commit_every):
        part = todo[lo:lo + commit_every]
        rows = np.asarray([r.row for r in part], dtype=np.int64)
        s_ = score_images(model, ws.ft, ws.dmt, indices=rows, batch_size=batch_size,
                          device=device)
        with ws.session() as s, s.begin():
            db.add_scores(s, version, [r.id for r in part], s_.p_astro, s_.p_std, s_.bald)
        done += len(part)
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    return done
