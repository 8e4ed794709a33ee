"""Training data from a workspace: simulate -> prepare into it, then read labelled images.

Simulated observations go through exactly the path real data takes
(:func:`frbtriage.simulate.simulate_observation` writes ``obs.fil`` and a labelled your/FETCH
``candidates.csv``; :func:`frbtriage.io.candidates.read_candidates` reads it;
:func:`frbtriage.prepare.prepare_candidates` makes and stores the ``ft``/``dmt`` images), so
the network learns from images made by the same kernels as the ones it will score.

Simulations live in ``WS/simulations/<name>/`` (truth and candidate lists are kept; the
filterbank is deleted once its candidates are stored, to save disk). A folder holding a
``prepared.ok`` marker is skipped, so an interrupted ``frbtriage train`` resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from frbtriage.errors import InputError

if TYPE_CHECKING:
    from frbtriage.model.network import Architecture
    from frbtriage.workspace import Workspace

log = logging.getLogger(__name__)

def _rich_and_free(*mixes: dict[str, Any], noise_rich: float = 10.0) -> tuple[dict[str, Any], ...]:
    """Each mix twice: burst-rich (40 bursts/min, ``noise_rich`` noise candidates/min) and
    burst-free (no bursts; the mix's own RFI and noise rates).

    Why both: a negative candidate's images must not hold a burst (``clean_negatives``: the
    simulator redraws or drops those, see :mod:`frbtriage.simulate.search`), and at 40
    bursts a minute most wide RFI candidates (windows of up to the whole file) would be
    dropped. Burst-rich observations give the bursts (with RFI in their data), burst-free
    ones the RFI and noise candidates, so classes stay roughly balanced and every label
    matches its images.
    """
    out: list[dict[str, Any]] = []
    for m in mixes:
        out.append({**m, "burst_rate": 40.0, "noise_rate": noise_rich, "clean_negatives": True})
        out.append({**m, "n_bursts": 0, "clean_negatives": True})
    return tuple(out)


#: Simulation settings for the training set, cycled over the observations: RFI and
#: noise-candidate rates varied, mostly 256 channels (like data_samples/chime_sim; preparing
#: a high-DM 1024-channel candidate reads ~100x more samples), one mix in four at 1024
#: channels; each burst-rich and burst-free (:func:`_rich_and_free`).
TRAIN_MIXES: tuple[dict[str, Any], ...] = _rich_and_free(
    {"nchan": 256, "dm_range": (50.0, 800.0), "rfi_rate": 1.0, "noise_rate": 20.0},
    {"nchan": 256, "dm_range": (50.0, 800.0), "rfi_rate": 0.5, "noise_rate": 40.0},
    {"nchan": 256, "dm_range": (50.0, 1500.0), "rfi_rate": 2.0, "noise_rate": 10.0},
    {"nchan": 1024, "dm_range": (50.0, 500.0), "rfi_rate": 1.0, "noise_rate": 20.0},
)


def with_families(mixes: Sequence[dict[str, Any]], families: Sequence[str],
                  family_rate: float = 10.0) -> tuple[dict[str, Any], ...]:
    """``mixes`` (as :func:`_rich_and_free` makes them) with the simulator's ``families``
    (:data:`frbtriage.simulate.observation.FAMILIES`) added, ``family_rate`` events of each a
    minute: burst morphologies into the burst-rich mixes, interference families into the
    burst-free ones, so that a label-0 window still holds no burst. Raises
    :class:`InputError` for an unknown family."""
    from frbtriage.simulate.observation import BURST_FAMILIES, FAMILIES

    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise InputError(None, f"unknown famil{'y' if len(unknown) == 1 else 'ies'} "
                               f"{', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    if not families:
        return tuple(mixes)
    bursts = tuple(f for f in FAMILIES if f in families and f in BURST_FAMILIES)
    rfi = tuple(f for f in FAMILIES if f in families and f not in BURST_FAMILIES)
    out = []
    for m in mixes:
        fams = rfi if m.get("n_bursts") == 0 else bursts
        out.append({**m, "families": fams, "family_rate": family_rate} if fams else dict(m))
    return tuple(out)


#: A mix the training never uses: other relative RFI rates, more persistent carriers, more
#: dead channels, more noise candidates (for the "unseen simulations" evaluation); burst-rich
#: and burst-free in turn, as in training.
EVAL_MIXES: tuple[dict[str, Any], ...] = _rich_and_free(
    {"nchan": 256, "dm_range": (50.0, 1000.0), "rfi_rate": 1.0, "impulse_rate": 3.0,
     "narrowband_rate": 10.0, "drift_rate": 5.0, "n_persistent": 7, "noise_rate": 30.0,
     "dead_fraction": 0.06},
    noise_rich=15.0,
)
#: Seeds of evaluation simulations start here, far from any training seed.
EVAL_SEED_OFFSET = 1_000_003


@dataclass
class LabelledSet:
    """Labelled candidates of a workspace, pooled for training.

    ``ids`` (n,) candidate ids; ``x`` (n, views, rows, cols) float32 pooled ft/dmt (and their
    zoom crops, see :func:`frbtriage.model.train.pool_images`); ``targets`` (n,)
    float32 in [0, 1]; ``weights`` (n,) float32 (evidence behind each target).
    """

    ids: np.ndarray
    x: np.ndarray
    targets: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def simulate_and_prepare(ws: Workspace, n_obs: int, seed: int, *, minutes: float = 1.0,
                         mixes: Sequence[dict[str, Any]] = TRAIN_MIXES, tag: str = "train",
                         keep_fil: bool = False,
                         progress: Callable[[str], None] | None = None) -> list[Path]:
    """Simulate ``n_obs`` observations into ``ws.path/simulations`` and prepare their labelled
    candidates into the workspace ``ws`` (a :class:`frbtriage.workspace.Workspace`).

    Observation ``i`` uses seed ``seed * 1000 + i`` and mix ``mixes[i % len(mixes)]``.
    Returns the simulation folders. Already prepared folders are skipped (resume).
    """
    from frbtriage.io.candidates import read_candidates
    from frbtriage.prepare import prepare_candidates
    from frbtriage.safe_write import write_text
    from frbtriage.simulate import simulate_observation

    root = Path(ws.path) / "simulations"
    root.mkdir(exist_ok=True)
    folders = []
    for i in range(n_obs):
        obs_seed = seed * 1000 + i
        mix = dict(mixes[i % len(mixes)])
        folder = root / f"{tag}-seed{obs_seed}"
        folders.append(folder)
        marker = folder / "prepared.ok"
        if marker.exists():
            continue
        if progress:
            progress(f"simulating and preparing {folder.name} ({i + 1}/{n_obs})")
        res = simulate_observation(folder, minutes=minutes, seed=obs_seed, **mix)
        cands = read_candidates(res.candidates_path)
        prepare_candidates(ws, cands, progress=False, label_source="simulation")
        if not keep_fil:
            res.fil_path.unlink(missing_ok=True)
        write_text(marker, f"seed={obs_seed} minutes={minutes} mix={mix}\n")
    return folders


def load_labelled(ws: Workspace, arch: Architecture, *, ids: Sequence[int] | None = None,
                  chunk: int = 256,
                  soft_labels: dict[int, tuple[float, float]] | None = None) -> LabelledSet:
    """Pooled images, targets and weights of the labelled candidates of workspace ``ws``.

    A candidate is labelled when its ``label`` column is 0 or 1 (target = label, weight 1)
    or when ``soft_labels`` maps its id to ``(target in [0, 1], weight > 0)`` (e.g. a vote
    fraction and the number of votes; overrides the label column). ``ids`` restricts the
    set. Images are pooled to the views that ``arch`` (an
    :class:`frbtriage.model.network.Architecture`) takes. They are read ``chunk`` rows at a
    time in row order, so memory stays at ``n * views * rows * cols * 4`` bytes plus one
    chunk of full images.
    """
    from frbtriage.model.train import pool_images

    soft = soft_labels or {}
    records = ws.candidates(ids)
    rows, cids, targets, weights = [], [], [], []
    for r in records:
        if r.id in soft:
            t, w = soft[r.id]
        elif r.label in (0, 1):
            t, w = float(r.label), 1.0
        else:
            continue
        if not (0.0 <= t <= 1.0 and w > 0):
            raise ValueError(f"candidate {r.id}: soft label {t} / weight {w} out of range")
        rows.append(r.row)
        cids.append(r.id)
        targets.append(t)
        weights.append(w)
    order = np.argsort(rows, kind="stable")
    rows_a = np.asarray(rows, dtype=np.int64)[order]
    x = np.empty((len(rows_a), arch.n_inputs, *arch.input_shape), dtype=np.float32)
    for lo in range(0, len(rows_a), chunk):
        ft, dmt = ws.images(rows_a[lo:lo + chunk])
        x[lo:lo + chunk] = pool_images(ft, dmt, arch)
    return LabelledSet(
        ids=np.asarray(cids, dtype=np.int64)[order], x=x,
        targets=np.asarray(targets, dtype=np.float32)[order],
        weights=np.asarray(weights, dtype=np.float32)[order],
    )
