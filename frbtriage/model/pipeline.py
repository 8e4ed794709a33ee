"""Train -> calibrate -> evaluate -> save, as one function the CLI, the nightly job, the app
and notebooks all call (:func:`train_pipeline`).

Steps, in order:

1. simulate ``simulate`` observations into the workspace and prepare their labelled
   candidates (already prepared ones are reused: a re-run resumes);
2. load every labelled candidate of the workspace, pooled for the network;
3. split, train the ensemble, fit the temperature on the calibration split, evaluate on the
   held-out split and save weights, ``config.json``, ``evaluation.json`` and the PNGs
   (:func:`frbtriage.model.train.fit_calibrate_evaluate`);
4. evaluate on ``eval_simulate`` unseen simulations (other seeds, another RFI mix) in a
   temporary workspace and add the metrics to ``config.json`` and ``evaluation.json``;
5. (to come) register the saved model in the workspace's model registry.

Every file is written through :mod:`frbtriage.safe_write`, so an interrupted run leaves each
file of the model folder either as it was or complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from frbtriage.errors import InputError
from frbtriage.model.config import ModelConfig
from frbtriage.model.network import Architecture, EnsembleCNN

#: Fewest labelled candidates, and of each class, that training needs.
MIN_LABELLED = 20
MIN_PER_CLASS = 5


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of :func:`train_pipeline` (defaults are the CLI's).

    ``simulate`` observations to add to the workspace before training (0 = none);
    ``sim_minutes`` length of each, minutes; ``eval_simulate`` unseen observations to
    evaluate on (0 = skip); ``epochs``, ``batch_size``, ``lr`` (peak learning rate),
    ``seed`` as :class:`frbtriage.model.train.TrainConfig`; ``members``, ``channels``
    (convolution channels per block), ``hidden`` (dense width), ``input_size`` (time columns
    each 256 x 256 image is pooled to), ``input_rows`` (frequency / DM rows after pooling)
    and ``zoom`` (central time columns of the second view; 0 = none; None = 32 or
    ``input_size`` if larger) as :class:`Architecture`; ``device`` torch device
    (None: CUDA when available); ``threads`` torch CPU threads for the whole process (None:
    torch's choice); ``families`` the simulator's burst morphologies and interference
    families to add to the training mixes, ``family_rate`` events of each a minute
    (:func:`frbtriage.model.data.with_families`); ``telescopes`` other telescopes'
    grids (:data:`frbtriage.simulate.telescopes.TELESCOPES`) on which every mix is simulated
    too, beside CHIME's.
    """

    simulate: int = 30
    sim_minutes: float = 1.0
    eval_simulate: int = 8
    epochs: int = 40
    seed: int = 0
    batch_size: int = 64
    lr: float = 3e-3
    members: int = 5
    channels: tuple[int, ...] = Architecture.channels
    hidden: int = Architecture.hidden
    input_size: int = 32
    input_rows: int = 32
    zoom: int | None = None
    device: str | None = None
    threads: int | None = None
    families: tuple[str, ...] = ()
    family_rate: float = 10.0
    telescopes: tuple[str, ...] = ()

    def architecture(self) -> Architecture:
        """The network shape these settings ask for (not yet validated)."""
        zoom = max(32, self.input_size) if self.zoom is None else self.zoom
        return Architecture(members=self.members, channels=tuple(self.channels),
                            hidden=self.hidden, input_size=self.input_size,
                            input_rows=self.input_rows, zoom=zoom)

    def mixes(self) -> tuple[dict[str, Any], ...]:
        """The simulation settings the training observations cycle over: the training
        mixes, with :attr:`families` added, on CHIME's grid and then on each of
        :attr:`telescopes` (:class:`InputError` for an unknown family or telescope)."""
        from frbtriage.model.data import TRAIN_MIXES, with_families
        from frbtriage.simulate.telescopes import telescope

        base = with_families(TRAIN_MIXES, self.families, self.family_rate)
        for name in self.telescopes:
            telescope(name)
        return base + tuple({**m, "telescope": t} for t in self.telescopes for m in base)

    def sim_tag(self) -> str:
        """Name prefix of the simulation folders (a workspace resumes those of its own
        settings only): ``train``, or ``train-families-HASH`` / ``train-telescopes-HASH``
        with families and/or telescopes."""
        if not (self.families or self.telescopes):
            return "train"
        key = f"{sorted(self.families)} {self.family_rate:g}"
        if self.telescopes:
            key += f" {list(self.telescopes)}"
        kind = "telescopes" if self.telescopes else "families"
        return f"train-{kind}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"

    def check(self) -> None:
        """Raise :class:`InputError` for an impossible setting (named as its CLI option)."""
        if not self.family_rate > 0:
            raise InputError(None, "--family-rate must be positive")
        self.mixes()
        for name in ("simulate", "eval_simulate"):
            if getattr(self, name) < 0:
                raise InputError(None, f"--{name.replace('_', '-')} must be >= 0")
        for name in ("epochs", "batch_size", "members"):
            if getattr(self, name) < 1:
                raise InputError(None, f"--{name.replace('_', '-')} must be >= 1")
        if not self.sim_minutes > 0 or not self.lr > 0:
            raise InputError(None, "--sim-minutes and --lr must be positive")
        if self.threads is not None and self.threads < 1:
            raise InputError(None, "--threads must be >= 1")
        try:
            self.architecture().validate()
        except ValueError as err:
            raise InputError(None, f"--input-size/--input-rows/--zoom/--channels/--hidden: "
                                   f"{err}") from err


@dataclass
class PipelineResult:
    """What :func:`train_pipeline` made: the model folder ``out_dir``, the ``workspace`` it
    trained from, and the saved ``config`` (version, temperature, metrics: ``held_out`` and,
    when evaluated, ``unseen_simulation``)."""

    out_dir: Path
    workspace: Path
    config: ModelConfig

    @property
    def held_out(self) -> dict[str, Any]:
        """Metrics on the held-out split (see :func:`frbtriage.model.metrics.evaluate`)."""
        return self.config.metrics["held_out"]

    @property
    def unseen(self) -> dict[str, Any] | None:
        """Metrics on the unseen simulations, or None when they were skipped."""
        return self.config.metrics.get("unseen_simulation")


def train_pipeline(workspace: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                   config: PipelineConfig, *, command: str,
                   progress: Callable[[str], None] | None = None,
                   bars: bool = False) -> PipelineResult:
    """Simulate + prepare into ``workspace`` (created if missing), train, calibrate, evaluate
    and save the model into ``out_dir`` (steps in the module docstring).

    ``command`` is recorded as the model's provenance (the caller's command line, or what
    called it); ``progress`` receives one line per simulated observation; ``bars`` shows
    training progress bars. Raises :class:`InputError` for bad settings (nothing made) or
    too few labelled candidates.
    """
    from frbtriage.model.config import pick_device
    from frbtriage.model.data import load_labelled, simulate_and_prepare
    from frbtriage.model.train import TrainConfig, fit_calibrate_evaluate
    from frbtriage.workspace import Workspace

    config.check()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    arch = config.architecture()
    with Workspace.open_or_create(workspace) as ws:
        if config.simulate:
            simulate_and_prepare(ws, config.simulate, config.seed, minutes=config.sim_minutes,
                                 mixes=config.mixes(), tag=config.sim_tag(), progress=progress)
        data = load_labelled(ws, arch)
        ws_path = ws.path
    n_pos = int((data.targets >= 0.5).sum())
    if len(data) < MIN_LABELLED or min(n_pos, len(data) - n_pos) < MIN_PER_CLASS:
        raise InputError(workspace, f"too few labelled candidates to train on ({len(data)}, "
                                    f"{n_pos} astrophysical); use --simulate N")
    description = {
        "command": command,
        "seed": config.seed,
        "threads": config.threads,
        "workspace": str(ws_path),
        "simulated_observations": config.simulate,
        "simulation": {"minutes": config.sim_minutes,
                       "seeds": f"seed*1000 + i for i in 0..{config.simulate - 1}",
                       "mixes": list(config.mixes())},
        "labels": "workspace label column (1 astrophysical, 0 RFI/noise), weight 1 each",
    }
    cfg = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                      seed=config.seed, device=str(device))
    out = Path(out_dir)
    network, saved = fit_calibrate_evaluate(data.x, data.targets, data.weights, cfg, out,
                                            arch=arch, training_description=description,
                                            progress=bars)
    if config.eval_simulate:
        saved = _evaluate_unseen(network, saved, out, config, device, progress)
    # Step 5 goes here: register `out` (version saved.version, metrics saved.metrics) in the
    # model registry of the workspace at `ws_path`, promoting it only if it beats the
    # current model. The registry is being built; until then the model is only saved.
    return PipelineResult(out_dir=out, workspace=ws_path, config=saved)


def _evaluate_unseen(network: EnsembleCNN, saved: ModelConfig, out: Path,
                     config: PipelineConfig, device: torch.device,
                     progress: Callable[[str], None] | None) -> ModelConfig:
    """Step 4: metrics of ``network`` on fresh simulations (seeds ``seed + EVAL_SEED_OFFSET``,
    the evaluation RFI mix) prepared in a temporary workspace; adds them to the model's
    ``config.json`` and ``evaluation.json`` (with ``unseen_*.png``). Returns the updated
    config."""
    from frbtriage.model.calibration import ensemble_stats
    from frbtriage.model.config import update_metrics
    from frbtriage.model.data import (
        EVAL_MIXES,
        EVAL_SEED_OFFSET,
        load_labelled,
        simulate_and_prepare,
    )
    from frbtriage.model.metrics import plot_evaluation
    from frbtriage.model.train import (
        add_evaluation_metrics,
        evaluate_logits,
        predict_logits,
    )
    from frbtriage.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="frbtriage-eval-") as tmp, \
            Workspace.create(Path(tmp) / "ws") as ews:
        simulate_and_prepare(ews, config.eval_simulate, config.seed + EVAL_SEED_OFFSET,
                             minutes=config.sim_minutes, mixes=EVAL_MIXES, tag="eval",
                             progress=progress)
        ev = load_labelled(ews, saved.architecture)
    logits = predict_logits(network, ev.x, device=device)
    unseen = evaluate_logits(logits, ev.targets, saved.temperature)
    unseen["simulation"] = {"observations": config.eval_simulate, "minutes": config.sim_minutes,
                            "seeds": f"(seed + {EVAL_SEED_OFFSET})*1000 + i",
                            "mixes": list(EVAL_MIXES)}
    updated = update_metrics(out, {"unseen_simulation": unseen})
    p = ensemble_stats(logits, saved.temperature)["p_astro"]
    if 0 < int((ev.targets >= 0.5).sum()) < len(ev):
        plot_evaluation(p, ev.targets, out, title="(unseen simulations)", prefix="unseen_")
    add_evaluation_metrics(out, {"unseen_simulation": unseen})
    return updated
