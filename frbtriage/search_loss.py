"""The S/N a DM/time plan (:func:`frbtriage.search.dm_plan`) keeps, measured on noise-free bursts.

A burst of intrinsic width ``W`` (Gaussian FWHM) at ``DM`` with a flat spectrum is rendered
exactly as the simulator injects it (:mod:`frbtriage.simulate.profiles`: Gaussian, intra-channel
smearing box, integrated over samples), averaged over ``2**k`` samples as the plan's stage sees
it, dedispersed by the search's own FDMT over the stage's trials next to the burst's sweep and
searched with the stage's own boxcars. Its S/N is ``box sum / sqrt(nchan * 2**k * w)`` (unit
radiometer noise per channel and native sample, as the search's robust standardisation makes
it). The reference is the simulator's *matched* S/N (the ``snr`` column of ``truth.csv``): the
burst dedispersed at its exact DM with per-channel delays rounded to native samples and the best
boxcar of any width, i.e. the best a native-resolution search can do.

The fraction ``plan / matched`` is taken over burst placements between the plan's trials (DM
offsets of 0, 1/4 and 1/2 of the stage's DM step) and times (0, 1/3 and 2/3 of a coarse
sample); the best stage that searches the DM counts, as in the search (its clustering keeps
the brightest member). ``mean`` is what an average burst keeps, ``min`` the worst placement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from frbtriage.kernels.boxcar import boxcar_snr
from frbtriage.kernels.fdmt import delay_to_dm, dm_to_delay, fdmt
from frbtriage.physics import delay_samples, delay_seconds, smearing_seconds
from frbtriage.search import SearchConfig, Stage, _plan, dm_plan
from frbtriage.simulate.bursts import FWHM_PER_SIGMA
from frbtriage.simulate.profiles import (
    Pulse,
    PulseBlock,
    dedispersed_series,
    render_pulse,
)
from frbtriage.simulate.profiles import (
    boxcar_snr as matched_snr,
)

__all__ = ["SnrLoss", "plan_snr", "snr_loss_table"]

#: DM offsets (fractions of the stage's DM step) and time phases (fractions of its sample)
DM_OFFSETS = (0.0, 0.25, 0.5)
TIME_PHASES = (0.0, 1 / 3, 2 / 3)


@dataclass(frozen=True)
class SnrLoss:
    """S/N a plan keeps for one (DM, width): ``mean``/``min`` fraction of the matched S/N over
    the placements, and the decimation ``factor`` of the stage that gave the best mean."""

    dm: float
    width_s: float
    mean: float
    min: float
    factor: int


def _burst(freqs: NDArray, tsamp: float, dm: float, width_s: float, t0: float) -> PulseBlock:
    """A flat-spectrum burst of unit fluence per channel arriving at ``t0`` s (top of band)."""
    chan_bw = abs(float(freqs[1] - freqs[0])) if freqs.size > 1 else 1.0
    pulse = Pulse(t_centre=t0 + delay_seconds(dm, freqs),
                  sigma_s=max(width_s, 1e-7 * FWHM_PER_SIGMA) / FWHM_PER_SIGMA,
                  tau=np.zeros(freqs.size), smear=smearing_seconds(dm, freqs, chan_bw),
                  fluence=np.ones(freqs.size))
    return render_pulse(pulse, tsamp)


def _decimated(block: PulseBlock, nchan: int, factor: int, ncoarse: int) -> NDArray[np.float32]:
    """The block as ``(nchan, ncoarse)`` sums of ``factor`` native samples (the plan's halving)."""
    out = np.zeros((nchan, ncoarse), np.float64)
    cols = (block.k0[:, None] + np.arange(block.data.shape[1])[None, :]) // factor
    rows = np.broadcast_to(block.chans[:, None], cols.shape)
    ok = (cols >= 0) & (cols < ncoarse)
    np.add.at(out, (rows[ok], cols[ok]), block.data[ok])
    return out.astype(np.float32)


def _stage_groups(st: Stage, sweep: float) -> list[tuple[int, int, NDArray[np.int64]]]:
    """``(lo, hi, widths)``: the coarse trials of each width group of stage ``st`` next to
    native sweeps ``sweep .. sweep + f/2`` (the burst placements), empty groups left out."""
    f = st.factor
    out = []
    for first, last, widths in ((st.lo, st.hi, st.widths), (st.first, st.lo - 1, st.wide)):
        lo = max(first, int(np.floor(sweep / f)) - 1)
        hi = min(last, int(np.ceil(sweep / f + 0.5)) + 1)
        if widths and lo <= hi:
            out.append((lo, hi, np.asarray(widths, np.int64)))
    return out


def _stage_snr(block: PulseBlock, freqs: NDArray, st: Stage,
               groups: Sequence[tuple[int, int, NDArray[np.int64]]]) -> float:
    """Best boxcar S/N of ``block`` in stage ``st`` over the trials ``groups`` name."""
    f = st.factor
    best = 0.0
    end = int(np.ceil((block.k0 + block.data.shape[1]).max() / f))
    for lo, hi, w in groups:
        x = _decimated(block, freqs.size, f, max(end, hi) + int(w.max()) + 2)
        dd = fdmt(x, _plan(freqs, hi, lo)) / np.float32(np.sqrt(freqs.size * f))
        snr, _ = boxcar_snr(dd, w)
        best = max(best, float(snr.max()))
    return best


def plan_snr(cfg: SearchConfig, freqs: NDArray, tsamp: float, dm: float, width_s: float,
             stages: Sequence[Stage] | None = None) -> SnrLoss:
    """What the plan of ``cfg`` (or the given ``stages``) keeps of the matched S/N of a burst
    at ``dm`` pc cm^-3 of FWHM ``width_s`` s (module docstring)."""
    freqs = np.asarray(freqs, np.float64)
    f_lo, f_hi = float(freqs.min()), float(freqs.max())
    if stages is None:
        maxdelay = int(np.ceil(float(dm_to_delay(cfg.dm_max, f_lo, f_hi, tsamp))))
        stages = dm_plan(cfg, freqs, tsamp, maxdelay, max(1, round(cfg.max_width_s / tsamp)))
    sweep0 = float(dm_to_delay(dm, f_lo, f_hi, tsamp))
    margin = 4 * width_s + 0.02
    best: tuple[float, float, int] = (-1.0, 0.0, 1)
    for st in stages:
        f = st.factor
        lo_n, hi_n = st.first * f, st.hi * f
        if not lo_n - f <= sweep0 <= hi_n + f:
            continue
        groups = _stage_groups(st, sweep0)
        if not groups:
            continue
        fracs = []
        for off in DM_OFFSETS:
            dm_b = float(delay_to_dm(sweep0 + off * f, f_lo, f_hi, tsamp))
            for ph in TIME_PHASES:
                block = _burst(freqs, tsamp, dm_b, width_s, margin + ph * f * tsamp)
                series, _ = dedispersed_series(block, delay_samples(dm_b, freqs, tsamp))
                ref = matched_snr(series, freqs.size)[0]
                fracs.append(_stage_snr(block, freqs, st, groups) / ref)
        mean = float(np.mean(fracs))
        if mean > best[0]:
            best = (mean, float(np.min(fracs)), f)
    return SnrLoss(dm, width_s, best[0], best[1], best[2])


def snr_loss_table(cfg: SearchConfig, freqs: NDArray, tsamp: float, dms: Sequence[float],
                   widths_s: Sequence[float]) -> list[SnrLoss]:
    """:func:`plan_snr` over a grid of DMs x widths (rows DM-major)."""
    freqs = np.asarray(freqs, np.float64)
    f_lo, f_hi = float(freqs.min()), float(freqs.max())
    maxdelay = int(np.ceil(float(dm_to_delay(cfg.dm_max, f_lo, f_hi, tsamp))))
    stages = dm_plan(cfg, freqs, tsamp, maxdelay, max(1, round(cfg.max_width_s / tsamp)))
    return [plan_snr(cfg, freqs, tsamp, dm, w, stages) for dm in dms for w in widths_s]
