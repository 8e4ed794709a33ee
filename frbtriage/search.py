"""Single-pulse search: filterbank -> candidate list (FDMT + boxcar + friends-of-friends).

The pipeline, per file (memory stays bounded: only a few blocks per level are held):

1. **Read** the file in chunks of ``chunk`` spectra.
2. **Clean** each chunk: per-channel robust standardisation (median, MAD); channel masks
   (channels without spread, IQRM on the channels' standard deviations, spectral
   kurtosis); clipping of bright impulses (single channel-samples beyond ``clip_sigma`` are
   zeroed); the zero-DM filter (each spectrum's mean over the unmasked channels is
   subtracted).
3. **Dedisperse** by a DM/time plan (:func:`dm_plan`), one FDMT per stage. Stage ``k`` sees
   the data averaged over ``2**k`` samples (each stage's input is the one below halved) and
   dedisperses coarse sweeps ``first..hi``, a DM step of one coarse sample of sweep. The
   default ``plan="ddplan"`` chooses the stages as PRESTO's DDplan chooses its downsampling:
   stage ``k`` takes over at the DM where the intra-channel smearing at the band centre makes
   its coarser sample (and half-step DM error) cost an unresolved burst at most a factor
   ``smear_tol`` in effective width, and searches only its own DM range with the boxcars
   ``widths``, plus the DMs below with the widths the stages there lack (pulses wider than
   their boxcars). ``plan="tree"`` is the earlier bonsai-like tree: every level from DM 0
   over ``tree_delay`` coarse sweeps. Each stage streams in overlapping blocks: its overlap is
   its own largest sweep plus the widest boxcar.
4. **Detect**: each DM trial is robustly standardised (median, MAD) and the boxcar S/N is
   ``sum / sqrt(w)`` (white noise, as Heimdall and PRESTO assume; ``per_width_noise``
   instead standardises each boxcar width by its own median and MAD, which red noise
   cannot inflate, at the price of a lower S/N for pulses in red noise) over widths
   ``(1, 2, 3, 4, 6, 8)`` coarse samples (capped at ``max_width``), and each run above
   ``snr_min`` gives one detection at its peak.
5. **Cluster** detections friends-of-friends in (time, DM sweep, width) like Heimdall; each
   cluster is one candidate: its brightest member, with the member count (and, when the
   cluster also holds members >= 16x narrower than that, the brightest of those as a second
   candidate: a narrow burst under broad drifting RFI is not swallowed).

Times are seconds from the file start at the top of the band, the centre of the best
boxcar; widths in native samples; DMs in pc cm^-3.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numba as nb
import numpy as np
from numpy.typing import NDArray

from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate
from frbtriage.jit import CompileClock
from frbtriage.kernels.boxcar import (
    boxcar_snr,
    boxcar_snr_robust,
    find_peaks,
    robust_normalise,
)
from frbtriage.kernels.fdmt import FdmtPlan, delay_to_dm, dm_to_delay, fdmt, fdmt_plan
from frbtriage.physics import smearing_seconds

log = logging.getLogger(__name__)

__all__ = [
    "SearchCandidate",
    "SearchConfig",
    "SearchStats",
    "Stage",
    "dm_plan",
    "search_file",
    "search_files",
    "write_heimdall_cands",
]

ORIGIN = "frbtriage-search"
#: the DM/time plans :func:`dm_plan` knows
PLANS = ("ddplan", "tree")
#: fewest output samples per FDMT call (robust per-trial statistics need a few hundred)
MIN_OUT = 128


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class SearchConfig:
    """Parameters of :func:`search_file` (defaults are the CLI's).

    ``dm_min``/``dm_max`` pc cm^-3; ``snr_min`` boxcar S/N threshold; ``max_width_s`` widest
    boxcar in seconds; ``tree_delay`` largest FDMT sweep per tree level in (coarse) samples;
    ``level_block`` output samples per FDMT call per level (peak memory
    ~1.9 GB for 1024 channels to DM 2000 with the defaults, whatever the file length);
    ``chunk`` spectra per read; ``clip_sigma`` per channel-sample clip level after
    standardisation; ``zero_dm`` subtract each spectrum's channel mean; ``rfi_masks``
    use IQRM / spectral kurtosis channel masks; ``per_width_noise`` standardise every boxcar
    width by its own robust sigma instead of assuming white noise.

    ``plan`` the DM/time plan (:func:`dm_plan`): ``"ddplan"`` (default) decimates in time where
    the smearing budget allows it, each stage dedispersing only its own DM range;
    ``"tree"`` is the earlier bonsai-like tree (every level from DM 0, ``tree_delay`` sweeps
    each). ``smear_tol`` the ddplan's budget: a stage decimating by ``f`` starts at the DM
    where an unresolved burst's effective width there (sample, half a DM step and
    intra-channel smearing at the band centre, in quadrature) is at most ``smear_tol`` times
    what native resolution gives, i.e. its S/N at least ``smear_tol ** -0.5`` of it.
    """

    dm_min: float = 0.0
    dm_max: float = 2000.0
    snr_min: float = 7.0
    max_width_s: float = 0.1
    tree_delay: int = 4096
    level_block: int = 16384
    chunk: int = 8192
    widths: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    clip_sigma: float = 6.0
    zero_dm: bool = True
    rfi_masks: bool = True
    per_width_noise: bool = False
    plan: str = "ddplan"
    smear_tol: float = 1.5

    def check(self, path: str | os.PathLike[str] | None = None) -> None:
        """Raise :class:`InputError` for an impossible parameter."""
        if not (math.isfinite(self.dm_min) and math.isfinite(self.dm_max)):
            raise InputError(path, f"DM range must be finite, got {self.dm_min}..{self.dm_max}")
        if self.dm_min < 0 or self.dm_max < 0:
            raise InputError(path, "DM range must not be negative, got "
                                   f"{self.dm_min}..{self.dm_max}")
        if self.dm_max < self.dm_min:
            raise InputError(path, f"DM range is inverted: --dm-min {self.dm_min} > "
                                   f"--dm-max {self.dm_max}")
        if not (self.max_width_s > 0 and math.isfinite(self.max_width_s)):
            raise InputError(path, f"max width must be a finite number > 0 s, "
                                   f"got {self.max_width_s}")
        if not math.isfinite(self.snr_min):
            raise InputError(path, f"S/N threshold must be finite, got {self.snr_min}")
        if self.tree_delay < 16 or self.level_block < 64 or self.chunk < 64:
            raise InputError(path, "tree_delay >= 16, level_block >= 64 and chunk >= 64 needed")
        if self.plan not in PLANS:
            raise InputError(path, f"unknown DM plan {self.plan!r} (one of {', '.join(PLANS)})")
        if not (self.smear_tol > 1.0 and math.isfinite(self.smear_tol)):
            raise InputError(path, f"smearing tolerance must be a finite number > 1, "
                                   f"got {self.smear_tol}")


@dataclass
class SearchCandidate:
    """One clustered detection. ``tcand`` s (top of band, boxcar centre), ``dm`` pc cm^-3,
    ``width`` native samples, ``snr`` boxcar S/N, ``members`` detections merged into it,
    ``sample`` native sample index of ``tcand``, ``dm_index`` trial index at its tree level,
    ``level`` tree level (time downsampling ``2**level``)."""

    file: str
    tcand: float
    dm: float
    width: int
    snr: float
    members: int
    sample: int
    dm_index: int
    level: int

    def to_candidate(self) -> Candidate:
        """The shared :class:`frbtriage.io.candidates.Candidate` record (label unknown)."""
        return Candidate(file=self.file, tcand=self.tcand, dm=self.dm, width=int(self.width),
                         snr=self.snr, label=None, origin=ORIGIN)


@dataclass
class SearchStats:
    """What a search did: seconds of data, wall seconds, real-time factor, DM range searched,
    detections before clustering, candidates after, tree levels, masked channel fraction;
    ``compile_s`` of ``wall_s`` went to compiling ``compiled`` Numba kernels (a first run
    only, :mod:`frbtriage.jit`)."""

    file: str = ""
    tsamp: float = 0.0
    duration_s: float = 0.0
    wall_s: float = 0.0
    compile_s: float = 0.0
    compiled: int = 0
    dm_max_searched: float = 0.0
    detections: int = 0
    candidates: int = 0
    levels: int = 0
    masked_fraction: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def realtime_factor(self) -> float:
        """Data duration / wall time without the one-off Numba compilation (``compile_s``),
        so that a first run reports the speed of the search as later runs do."""
        wall = self.wall_s - self.compile_s
        return self.duration_s / wall if wall > 0 else float("inf")


# --------------------------------------------------------------------------- reading
class _Source:
    """The few things the search needs from a reader (:func:`frbtriage.io.open_data.open_data`:
    a filterbank or a folder of CHIME chunks)."""

    def __init__(self, path: Path) -> None:
        from frbtriage.io.open_data import open_data

        self.path = path
        self._r = open_data(path)
        self._r.__enter__()
        h = self._r.header
        self.freqs = np.asarray(h.freqs, dtype=np.float64)
        self.tsamp = float(h.tsamp)
        self.nspectra = int(h.nspectra)

    def read(self, start: int, stop: int) -> NDArray[np.float32]:
        """Spectra ``start..stop`` as ``(nchan, stop - start)`` float32, file channel order."""
        return np.ascontiguousarray(self._r.read(start, stop).data, dtype=np.float32)

    def close(self) -> None:
        self._r.__exit__(None, None, None)


# --------------------------------------------------------------------------- cleaning
@nb.njit(parallel=True, cache=True)
def _clip_zero_dm(x, good, clip, zero_dm):  # pragma: no cover - numba
    """In place on standardised ``x`` (nchan, ntime): zero bad channels, zero channel-samples
    beyond +-clip, then subtract each spectrum's mean over the good channels."""
    nchan, ntime = x.shape
    ngood = 0
    for c in range(nchan):
        if good[c]:
            ngood += 1
    for c in nb.prange(nchan):
        if not good[c]:
            for t in range(ntime):
                x[c, t] = 0.0
        else:
            for t in range(ntime):
                v = x[c, t]
                if v > clip or v < -clip:
                    x[c, t] = 0.0
    if zero_dm and ngood > 0:
        nblk = (ntime + 255) // 256
        for b in nb.prange(nblk):
            t0 = b * 256
            t1 = min(ntime, t0 + 256)
            acc = np.zeros(t1 - t0, np.float64)
            for c in range(nchan):
                if good[c]:
                    for t in range(t0, t1):
                        acc[t - t0] += x[c, t]
            for i in range(t1 - t0):
                acc[i] /= ngood
            for c in range(nchan):
                if good[c]:
                    for t in range(t0, t1):
                        x[c, t] -= acc[t - t0]


def _channel_mask(raw: NDArray[np.float32], norm: NDArray[np.float32], use_rfi: bool) -> NDArray:
    """Good-channel mask ``(nchan,)`` bool for one chunk ``(nchan, ntime)``: channels with
    spread, not flagged by IQRM on the channel standard deviations nor by spectral kurtosis."""
    good = np.any(norm != 0, axis=1)
    if use_rfi and raw.shape[1] >= 2:
        from frbtriage.kernels.rfi import iqrm_mask, sk_mask

        good &= ~iqrm_mask(raw)
        good &= ~sk_mask(raw)
    return good


# --------------------------------------------------------------------------- tree levels
_PLANS: dict[tuple[bytes, int, int], FdmtPlan] = {}


def _plan(freqs: NDArray[np.float64], delay: int, first: int = 0) -> FdmtPlan:
    """FDMT plan, cached per (channel frequencies, sweep range) for the life of the process."""
    key = (freqs.tobytes(), int(delay), int(first))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= 64:
            _PLANS.pop(next(iter(_PLANS)))
        plan = _PLANS[key] = fdmt_plan(freqs, delay, first)
    return plan


@dataclass
class _Level:
    """One level of the dedispersion tree and the part of its input not yet searched.

    ``k``: time downsampling ``2**k``; ``delay``: FDMT max sweep in coarse samples;
    ``widths`` boxcar widths in coarse samples for sweeps ``lo..delay``; ``wide`` the boxcar
    widths of sweeps ``first..lo-1`` (pulses too wide for the stages below); ``plan`` the FDMT
    plan of sweeps ``first..delay``; ``buf``
    ``(nchan, capacity)`` float32 input of which ``buf[:, :fill]`` is waiting; ``pos`` coarse
    output samples already searched; ``carry`` ``(nchan, 1)`` a last odd coarse sample
    waiting for its pair before it goes on to level ``k + 1``.
    """

    k: int
    delay: int
    widths: NDArray[np.int64]
    plan: FdmtPlan
    buf: NDArray[np.float32]
    fill: int = 0
    pos: int = 0
    carry: NDArray[np.float32] | None = None
    first: int = 0
    lo: int = 0
    wide: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def create(cls, k: int, delay: int, widths: NDArray[np.int64], freqs: NDArray[np.float64],
               cfg: SearchConfig, first: int = 0, lo: int | None = None,
               wide: NDArray[np.int64] | None = None) -> _Level:
        """An empty level whose buffer holds a search block, its overlap and one chunk more.
        ``first``/``lo`` default to 0 (every sweep with every width), ``wide`` to none."""
        lo = first if lo is None else lo
        wide = np.zeros(0, np.int64) if wide is None else np.asarray(wide, np.int64)
        wmax = int(max(widths.max(initial=1), wide.max(initial=1)))
        cap = cfg.level_block + delay + wmax - 1 + (cfg.chunk >> k) + 2
        return cls(k, delay, widths, _plan(freqs, delay, first),
                   np.empty((freqs.size, cap), np.float32), first=first, lo=lo, wide=wide)

    @classmethod
    def of_stage(cls, st: Stage, freqs: NDArray[np.float64], cfg: SearchConfig) -> _Level:
        """The empty level of one :class:`Stage` of the DM plan."""
        return cls.create(st.k, st.hi, np.array(st.widths, np.int64), freqs, cfg,
                          first=st.first, lo=st.lo, wide=np.array(st.wide, np.int64))

    @property
    def wmax(self) -> int:
        """Widest boxcar in coarse samples."""
        return int(max(self.widths.max(initial=1), self.wide.max(initial=1)))

    def groups(self) -> list[tuple[int, int, NDArray[np.int64]]]:
        """``(row_lo, row_hi, widths)`` of the FDMT output rows (row ``i`` = sweep
        ``first + i``) searched with each width set; empty groups left out."""
        out = []
        split = self.lo - self.first
        if split > 0 and self.wide.size:
            out.append((0, split, self.wide))
        if self.delay - self.lo + 1 > 0 and self.widths.size:
            out.append((split, self.delay - self.first + 1, self.widths))
        return out

    @property
    def need(self) -> int:
        """Input samples a search of ``nout`` output samples needs beyond ``nout``: the largest
        sweep plus the widest boxcar less one."""
        return self.delay + self.wmax - 1

    def append(self, x: NDArray[np.float32]) -> None:
        """Queue ``x`` ``(nchan, n)`` coarse samples behind the waiting input."""
        n = x.shape[1]
        self.buf[:, self.fill:self.fill + n] = x
        self.fill += n

    def consume(self, nout: int) -> None:
        """Drop the first ``nout`` waiting samples once their outputs are searched."""
        self.pos += nout
        rem = self.fill - nout
        self.buf[:, :rem] = self.buf[:, nout:self.fill]
        self.fill = rem

    def pad(self) -> None:
        """Append ``need`` zeros (the channels' median after standardisation) at the end of
        the file, growing the buffer if it has no room, so that the tail can be searched."""
        need = self.need
        if self.fill + need > self.buf.shape[1]:
            grown = np.empty((self.buf.shape[0], self.fill + need), np.float32)
            grown[:, :self.fill] = self.buf[:, :self.fill]
            self.buf = grown
        self.buf[:, self.fill:self.fill + need] = 0.0
        self.fill += need

    def halve(self, x: NDArray[np.float32]) -> NDArray[np.float32] | None:
        """The input of level ``k + 1`` from this level's new input ``x`` ``(nchan, n)``: sums
        of sample pairs ``(nchan, m)`` (the odd sample left over waits in ``carry`` for its
        pair); None when no pair is complete."""
        if self.carry is not None:
            x = np.concatenate([self.carry, x], axis=1)
        m = x.shape[1] // 2
        self.carry = x[:, 2 * m:].copy() if x.shape[1] % 2 else None
        return x[:, : 2 * m : 2] + x[:, 1 : 2 * m : 2] if m else None


def _plan_levels(
    cfg: SearchConfig, maxdelay: int, max_width: int
) -> list[tuple[int, int, NDArray[np.int64]]]:
    """(k, delay_k, widths_k) per tree level for a native max sweep and max width (samples)."""
    out = []
    k = 0
    wmax = max(cfg.widths)
    while True:
        f = 1 << k
        delay_k = min(cfg.tree_delay, -(-maxdelay // f))
        widths = np.array([w for w in cfg.widths if w * f <= max_width], np.int64)
        dm_needed = cfg.tree_delay * (f // 2 if k else 0) < maxdelay
        if widths.size == 0:
            if not dm_needed:
                break
            widths = np.array([1], np.int64)
        out.append((k, delay_k, widths))
        if cfg.tree_delay * f >= maxdelay and wmax * f >= max_width:
            break
        k += 1
    return out


@dataclass(frozen=True)
class Stage:
    """One stage of the DM/time plan: the data averaged over ``2**k`` samples, coarse sweeps
    (across the band, in samples of ``2**k``) ``lo..hi`` searched with boxcars ``widths`` and
    ``first..lo-1`` with boxcars ``wide`` only (pulses wider than the stages below search at
    those DMs); one FDMT over ``first..hi``."""

    k: int
    first: int
    lo: int
    hi: int
    widths: tuple[int, ...]
    wide: tuple[int, ...] = ()

    @property
    def factor(self) -> int:
        """Time decimation."""
        return 1 << self.k

    def native_range(self) -> tuple[int, int]:
        """Native sweeps (samples) searched with the full widths: ``lo * f .. hi * f``."""
        return self.lo * self.factor, self.hi * self.factor


def _tree_stages(cfg: SearchConfig, maxdelay: int, max_width: int) -> list[Stage]:
    """The earlier bonsai-like tree as stages: level ``k`` sweeps ``0..tree_delay`` coarse."""
    return [Stage(k, 0, 0, dk, tuple(int(w) for w in widths))
            for k, dk, widths in _plan_levels(cfg, maxdelay, max_width)]


def stage_start_seconds(factor: int, tsamp: float, tol: float) -> float:
    """Intra-channel smearing (s) from which decimating by ``factor`` keeps an unresolved
    burst's effective width within ``tol`` x that at native resolution: the smallest ``t_c``
    with ``sqrt(1.25 (f tsamp)^2 + t_c^2) <= tol sqrt(1.25 tsamp^2 + t_c^2)`` (sample and half a
    DM step, ``tsamp/2`` each of ``f``, in quadrature with ``t_c``); 0 when ``f <= tol``."""
    excess = 1.25 * (factor * factor - tol * tol) / (tol * tol - 1.0)
    return tsamp * math.sqrt(excess) if excess > 0 else 0.0


def dm_plan(cfg: SearchConfig, freqs: NDArray[np.float64], tsamp: float, maxdelay: int,
            max_width: int) -> list[Stage]:
    """The stages that search native sweeps ``0..maxdelay`` with boxcars up to ``max_width``
    native samples (``cfg.plan``; see :class:`SearchConfig`).

    ``"ddplan"``, as PRESTO's DDplan chooses its downsampling: stage ``k`` (decimation
    ``f = 2**k``, DM step one coarse sample of sweep) starts at the DM whose intra-channel
    smearing at the band centre is :func:`stage_start_seconds` and ends where stage ``k + 1``
    starts (the last at ``maxdelay``); adjacent stages share their boundary trial, so the DM
    coverage is contiguous. Each stage has the boxcars ``cfg.widths`` (coarse, capped at
    ``max_width``); stages ``k >= 1`` also search their sweeps below ``lo`` with the widths
    above half of ``max(cfg.widths)`` (what the stage below cannot reach), and further
    wide-only stages follow until ``max_width`` is reached, so a wide pulse at a low DM is
    still found, at the coarser resolution its width allows.
    """
    if cfg.plan == "tree":
        return _tree_stages(cfg, maxdelay, max_width)
    f_lo, f_hi = float(freqs.min()), float(freqs.max())
    chan_bw = (f_hi - f_lo) / max(freqs.size - 1, 1)
    smear_per_dm = float(smearing_seconds(1.0, 0.5 * (f_lo + f_hi), chan_bw))
    dm_per_native = float(delay_to_dm(1, f_lo, f_hi, tsamp))
    wmax = max(cfg.widths)

    def start(k: int) -> int:  # native sweep at which stage k starts
        t_c = stage_start_seconds(1 << k, tsamp, cfg.smear_tol)
        return int(math.ceil(t_c / smear_per_dm / dm_per_native)) if smear_per_dm > 0 else 0

    stages: list[Stage] = []
    k = 0
    while True:
        f = 1 << k
        s0 = start(k) if k else 0
        dm_left = s0 <= maxdelay and (k == 0 or stages[-1].hi * stages[-1].factor < maxdelay)
        width_left = wmax * (f >> 1) < max_width if k else True
        if not (dm_left or width_left):
            break
        widths = tuple(w for w in cfg.widths if w * f <= max_width)
        wide = tuple(w for w in widths if 2 * w > wmax) if k else ()
        if dm_left:
            lo = s0 // f
            hi = -(-min(start(k + 1), maxdelay) // f)
            if not widths:
                widths = (1,)
        else:  # wide-only: every DM at this resolution
            lo = hi = -(-maxdelay // f)
            lo += 1
            widths = ()
        first = 0 if wide else lo
        if not widths and not wide:
            break
        stages.append(Stage(k, first, min(lo, hi + 1), max(hi, first), widths, wide))
        k += 1
    return stages


# --------------------------------------------------------------------------- clustering
#: friends-of-friends linking (native samples): sweeps within LINK_DM_WIDTH x the narrower
#: width + LINK_DM_STEPS x the coarser trial step; times within half the summed widths + one
#: step + LINK_T_SWEEP x the sweep difference (a burst's bowtie shifts with DM). Tuned on a
#: simulated 3-minute CHIME file: every burst kept, RFI chains merged (benchmarks/).
LINK_DM_WIDTH = 1.0
LINK_DM_STEPS = 16.0
LINK_T_SWEEP = 1.0
#: a cluster's brightest member at least this many times narrower than the cluster's
#: brightest is reported as a candidate of its own (with the narrow members as its members)
NARROW_RATIO = 16


@nb.njit(cache=True)
def _fof(t, s, w, step, wmax, stepmax, a_dm, b_dm, c_t):  # pragma: no cover - numba
    """Friends-of-friends labels (smallest member index) for detections sorted by ``t``.

    i and j are friends when |ds| <= a_dm min(w_i, w_j) + b_dm max(step_i, step_j) and
    |dt| <= (w_i + w_j)/2 + max(step) + c_t |ds|, with t, sweep s and width w in native
    samples: the members of a burst's bowtie link, and a wide member cannot pull in far
    DMs (the width that bounds the DM distance is the narrower one)."""
    n = t.size
    parent = np.arange(n)

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    reach = 0.5 * wmax + stepmax + c_t * (a_dm * wmax + b_dm * stepmax)
    for i in range(n):
        horizon = t[i] + 0.5 * w[i] + reach
        j = i + 1
        while j < n and t[j] <= horizon:
            st = max(step[i], step[j])
            ds = abs(s[j] - s[i])
            if (ds <= a_dm * min(w[i], w[j]) + b_dm * st
                    and t[j] - t[i] <= 0.5 * (w[i] + w[j]) + st + c_t * ds):
                a = find(i)
                b = find(j)
                if a != b:
                    if a < b:
                        parent[b] = a
                    else:
                        parent[a] = b
            j += 1
    for i in range(n):
        parent[i] = find(i)
    return parent


class _Clusterer:
    """Accumulates detections and emits finished clusters (all members before a safe time)."""

    FIELDS = ("t", "s", "w", "step", "snr", "dm", "row", "level")

    def __init__(self) -> None:
        self.pending = {f: np.empty(0) for f in self.FIELDS}
        self.total = 0

    def add(self, **cols: NDArray) -> None:
        self.total += cols["t"].size
        for f in self.FIELDS:
            self.pending[f] = np.concatenate([self.pending[f], np.asarray(cols[f], np.float64)])

    def emit(self, safe_t: float) -> list[dict[str, NDArray]]:
        """Clusters whose latest member is before ``safe_t`` (native samples); ``inf``: all."""
        p = self.pending
        n = p["t"].size
        if n == 0:
            return []
        order = np.argsort(p["t"], kind="stable")
        for f in self.FIELDS:
            p[f] = p[f][order]
        wmax, stepmax = float(p["w"].max()), float(p["step"].max())
        # a cluster is finished when all its members are before safe_t, and such a member
        # links only to detections less than one link's reach later: the detections beyond
        # safe_t + reach cannot change which clusters are finished, so they wait unclustered
        # (re-clustering the whole backlog of the slowest level every chunk cost ~10 % of
        # the search)
        reach = wmax + stepmax + LINK_T_SWEEP * (LINK_DM_WIDTH * wmax + LINK_DM_STEPS * stepmax)
        n = int(np.searchsorted(p["t"], safe_t + reach + 1.0, side="left"))
        if n == 0:
            return []
        lab = _fof(p["t"][:n], p["s"][:n], p["w"][:n], p["step"][:n], wmax, stepmax,
                   LINK_DM_WIDTH, LINK_DM_STEPS, LINK_T_SWEEP)
        tmax = np.full(n, -np.inf)
        np.maximum.at(tmax, lab, p["t"][:n])
        done = np.zeros(p["t"].size, bool)
        done[:n] = tmax[lab] < safe_t
        out = []
        if done.any():
            idx = np.flatnonzero(done)
            # group the finished detections by cluster, brightest first within each
            order = idx[np.lexsort((-p["snr"][idx], lab[idx]))]
            glab = lab[order]
            starts = np.flatnonzero(np.r_[True, glab[1:] != glab[:-1]])
            ends = np.r_[starts[1:], order.size]
            for a, b in zip(starts, ends, strict=True):
                members = order[a:b]
                best = members[0]
                out.append({**{f: p[f][best] for f in self.FIELDS}, "members": int(b - a)})
                # a much narrower pulse inside a broad cluster (a burst under drifting RFI)
                # is reported too, as Heimdall keeps candidates whose filters differ a lot
                narrow = members[p["w"][members] * NARROW_RATIO <= p["w"][best]]
                if narrow.size:
                    out.append({**{f: p[f][narrow[0]] for f in self.FIELDS},
                                "members": int(narrow.size)})
        for f in self.FIELDS:
            p[f] = p[f][~done]
        return out


def _link_horizon(levels: Sequence[_Level]) -> float:
    """Native samples behind the searched front within which a later detection may still link
    to a cluster (twice the widest reach of :func:`_fof` over the tree's widths and steps)."""
    wmax_n = max(lv.wmax << lv.k for lv in levels)
    stepmax = 1 << levels[-1].k
    return 2.0 * (wmax_n + stepmax + LINK_T_SWEEP * (LINK_DM_WIDTH * wmax_n
                                                     + LINK_DM_STEPS * stepmax))


# --------------------------------------------------------------------------- detection
class _LevelDetector:
    """Detections in one block of one tree level: FDMT over the level's sweeps, boxcar S/N of
    every trial, the peaks above ``snr_min`` inside the DM range, as the columns
    :class:`_Clusterer` takes (in native samples). Keeps the scratch arrays the calls reuse.

    ``dm_max`` the highest DM searched (pc cm^-3); ``dm_per_native`` the DM of a sweep of one
    native sample across the band; ``levels`` the tree (to size the scratch arrays).
    """

    def __init__(self, cfg: SearchConfig, dm_max: float, dm_per_native: float,
                 levels: Sequence[_Level]) -> None:
        self.cfg = cfg
        self.dm_max = dm_max
        self.dm_per_native = dm_per_native
        self._rows = max(lv.plan.max_rows for lv in levels)
        work_len = max(cfg.level_block + lv.need for lv in levels)  # longest FDMT input
        self._work = (np.empty((self._rows, work_len), np.float32),
                      np.empty((self._rows, work_len), np.float32))
        ndelay = max(lv.plan.ndelay for lv in levels)
        self._snr = (np.empty((ndelay, cfg.level_block), np.float32),
                     np.empty((ndelay, cfg.level_block), np.int8))

    def detect(self, lv: _Level, nout: int, nreal: int | None = None) -> dict[str, NDArray]:
        """Detections among output samples ``lv.pos .. lv.pos + nout`` of level ``lv``, from its
        waiting input ``lv.buf[:, :nout + lv.need]``; ``lv`` is not changed.

        ``nreal``: only the first ``nreal`` input samples are data (the file's tail, padded):
        trial ``d`` then keeps only boxcars that end inside its first ``nreal - d`` samples
        and, with white-noise statistics, takes its median and MAD from those alone.

        Columns (each ``(ndet,)``): ``t`` boxcar centre, ``s`` sweep, ``w`` width, ``step``
        coarse sample (all in native samples), ``snr``, ``dm`` pc cm^-3, ``row`` trial index
        (coarse sweep) at this level, ``level`` ``lv.k``.
        """
        cfg = self.cfg
        n_in = nout + lv.need
        dd = fdmt(lv.buf[:, :n_in], lv.plan, self._work_for(n_in))  # (ndelay, nout+wmax-1)
        sweeps = lv.first + np.arange(lv.plan.ndelay)
        nvalid = None if nreal is None else np.maximum(nreal - sweeps, 0)
        snr_buf = self._snr_for(lv.plan.ndelay, nout)
        found = []
        for a, b, widths in lv.groups():
            if cfg.per_width_noise:
                snr, widx = boxcar_snr_robust(dd[a:b], widths, nout, nsub=512)
            else:
                snr, widx = boxcar_snr(dd[a:b], widths, nout, normalise=True, nsub=1024,
                                       nvalid=None if nvalid is None else nvalid[a:b],
                                       out=(snr_buf[0][a:b], snr_buf[1][a:b]))
            r, c = find_peaks(snr, cfg.snr_min)
            found.append((r + a, c, widths[widx[r, c]], snr[r, c]))
        if not found:  # a stage with no rows to search (cannot come from dm_plan)
            found.append((np.zeros(0, np.int64),) * 3 + (np.zeros(0, np.float32),))
        rows, cols, wc, peak = (np.concatenate(v) for v in zip(*found, strict=True))
        f = 1 << lv.k
        if nvalid is not None:  # boxcar must end inside the real data at that sweep
            ok = cols + wc <= nvalid[rows]
            rows, cols, wc, peak = rows[ok], cols[ok], wc[ok], peak[ok]
        rows = rows + lv.first  # coarse sweep
        wn = wc * f
        dms = rows * f * self.dm_per_native
        keep = ((dms >= cfg.dm_min - 0.5 * f * self.dm_per_native)
                & (dms <= self.dm_max + 1e-9))
        rows, cols, wn, dms, peak = rows[keep], cols[keep], wn[keep], dms[keep], peak[keep]
        t_start = (lv.pos + cols) * f
        return {"t": t_start + 0.5 * (wn - 1), "s": rows * f, "w": wn,
                "step": np.full(rows.size, f), "snr": peak, "dm": dms,
                "row": rows, "level": np.full(rows.size, lv.k)}

    def _work_for(self, ntime: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """FDMT scratch arrays for an input of ``ntime`` samples (grown for the file's tail)."""
        if ntime > self._work[0].shape[1]:
            self._work = (np.empty((self._rows, ntime), np.float32),
                          np.empty((self._rows, ntime), np.float32))
        return self._work

    def _snr_for(self, ndelay: int, nout: int) -> tuple[NDArray[np.float32], NDArray[np.int8]]:
        """S/N and width-index arrays of at least ``(ndelay, nout)``."""
        rows, cols = self._snr[0].shape
        if rows < ndelay or cols < nout:
            shape = (max(rows, ndelay), max(cols, nout))
            self._snr = (np.empty(shape, np.float32), np.empty(shape, np.int8))
        return self._snr


# --------------------------------------------------------------------------- the search
def _iter_chunks(src: _Source, chunk: int) -> Iterator[tuple[int, NDArray[np.float32]]]:
    start = 0
    while start < src.nspectra:
        stop = min(src.nspectra, start + chunk)
        yield start, src.read(start, stop)
        start = stop


def _searchable_sweep(
    cfg: SearchConfig, path: Path, freqs: NDArray[np.float64], tsamp: float, nspec: int
) -> tuple[int, float, str | None]:
    """``(maxdelay, dm_max, warning)``: the largest native sweep (samples) and DM
    (pc cm^-3) to search in a file of ``nspec`` spectra of ``tsamp`` s, and why they are
    below ``cfg.dm_max`` (None when they are not): a file shorter than the sweep is searched
    to the DM it can hold. Raises :class:`InputError` when it holds none >= ``cfg.dm_min``."""
    f_lo, f_hi = float(freqs.min()), float(freqs.max())
    maxdelay = int(math.ceil(float(dm_to_delay(cfg.dm_max, f_lo, f_hi, tsamp)) - 1e-9))
    room = nspec - max(cfg.widths)
    if maxdelay <= room:
        return maxdelay, cfg.dm_max, None
    maxdelay = max(room, 0)
    dm_max = float(delay_to_dm(maxdelay, f_lo, f_hi, tsamp))
    if dm_max < cfg.dm_min:
        raise InputError(path, f"file ({nspec} spectra) too short to hold any DM >= "
                               f"{cfg.dm_min:g} (its sweep needs more samples)")
    return maxdelay, dm_max, (
        f"{path}: file is {nspec * tsamp:.3f} s long, shorter than the "
        f"{cfg.dm_max:g} pc cm^-3 sweep; searching DM {cfg.dm_min:g}..{dm_max:.1f} only")


def _clean(raw: NDArray[np.float32], cfg: SearchConfig) -> tuple[NDArray[np.float32], int]:
    """One chunk ``(nchan, ntime)`` cleaned for the search (step 2 of the module docstring)
    and the number of channel-samples masked in it."""
    x = robust_normalise(raw)
    good = _channel_mask(raw, x, cfg.rfi_masks)
    _clip_zero_dm(x, good, np.float32(cfg.clip_sigma), cfg.zero_dm)
    return x, int((~good).sum()) * raw.shape[1]


def _tail_pieces(nreal: int, block: int) -> list[int]:
    """Output samples per search of a level's last ``nreal`` samples: blocks of ``block``,
    the last one lengthened rather than shorter than :data:`MIN_OUT` (statistics need
    samples)."""
    pieces = []
    while nreal > 0:
        nout = min(block, nreal)
        if nreal - nout < MIN_OUT:
            nout = nreal
        pieces.append(nout)
        nreal -= nout
    return pieces


class _Tree:
    """The dedispersion tree streamed chunk by chunk: each level is searched block by block
    as its input fills up (:class:`_LevelDetector`), its input halved into the next level's,
    and the detections clustered (:class:`_Clusterer`)."""

    def __init__(self, levels: list[_Level], detector: _LevelDetector, block: int) -> None:
        self.levels = levels
        self.detector = detector
        self.block = block
        self.clusterer = _Clusterer()
        self._horizon = _link_horizon(levels)

    @classmethod
    def create(cls, cfg: SearchConfig, freqs: NDArray[np.float64], tsamp: float,
               maxdelay: int, dm_max: float) -> _Tree:
        """The tree for channels at ``freqs`` (MHz), samples of ``tsamp`` s, native sweeps up
        to ``maxdelay`` samples (DM ``dm_max`` pc cm^-3) and boxcars up to ``cfg.max_width_s``."""
        max_width = max(1, int(round(cfg.max_width_s / tsamp)))
        dm_per_native = float(delay_to_dm(1, float(freqs.min()), float(freqs.max()), tsamp))
        levels = [_Level.of_stage(st, freqs, cfg)
                  for st in dm_plan(cfg, freqs, tsamp, maxdelay, max_width)]
        return cls(levels, _LevelDetector(cfg, dm_max, dm_per_native, levels), cfg.level_block)

    def feed(self, x: NDArray[np.float32]) -> list[dict[str, NDArray]]:
        """Take the next cleaned chunk ``(nchan, n)`` (native samples), search every block it
        completes, and return the clusters no later data can join."""
        for i, lv in enumerate(self.levels):
            lv.append(x)
            while lv.fill >= self.block + lv.need:
                self._search(lv, self.block)
            if i + 1 == len(self.levels):
                break
            x = lv.halve(x)
            if x is None:
                break
        safe = min(lv.pos << lv.k for lv in self.levels) - self._horizon
        return self.clusterer.emit(safe)

    def finish(self) -> list[dict[str, NDArray]]:
        """Search what the levels hold at the end of the file and return all clusters left.

        Each level is padded with its own ``need`` of zeros; a DM trial of sweep ``d`` keeps
        only boxcars that end before the real data does at that sweep, so the tail is searched
        at the DMs it can hold and the padding never enters the per-trial statistics."""
        for lv in self.levels:
            nreal = lv.fill
            if nreal <= lv.wmax:
                continue
            lv.pad()
            for nout in _tail_pieces(nreal, self.block):
                self._search(lv, nout, nreal)
                nreal -= nout
        return self.clusterer.emit(np.inf)

    def _search(self, lv: _Level, nout: int, nreal: int | None = None) -> None:
        det = self.detector.detect(lv, nout, nreal)
        if det["t"].size:
            self.clusterer.add(**det)
        lv.consume(nout)


def search_file(
    path: str | os.PathLike[str],
    dm_min: float = 0.0,
    dm_max: float = 2000.0,
    snr_min: float = 7.0,
    max_width_s: float = 0.1,
    *,
    config: SearchConfig | None = None,
    progress: bool = False,
    stats: SearchStats | None = None,
) -> list[SearchCandidate]:
    """Search one filterbank for dispersed single pulses; candidates sorted by time.

    ``dm_min``/``dm_max`` pc cm^-3, ``snr_min`` boxcar S/N, ``max_width_s`` seconds (ignored
    when ``config`` is given: it carries all parameters). A file shorter than the largest
    dispersion sweep is searched up to the DM it can hold, with a logged warning (also in
    ``stats.warnings``). Raises :class:`InputError` for a bad DM range or an unreadable file.
    ``progress`` shows a tqdm bar with the real-time factor; ``stats`` is filled in if given.
    """
    cfg = config or SearchConfig(dm_min=dm_min, dm_max=dm_max, snr_min=snr_min,
                                 max_width_s=max_width_s)
    path = Path(path)
    cfg.check(path)
    if not (path.is_file() or path.is_dir()):
        raise InputError(path, "no such file or folder")
    st = stats if stats is not None else SearchStats()
    st.file = os.fspath(path)
    t_wall = time.perf_counter()
    try:
        src = _Source(path)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - reader failures are bad input
        raise InputError(path, f"cannot read as a filterbank: {err}") from err
    clock = CompileClock()
    try:
        with clock:
            return _search_open(src, cfg, st, progress, t_wall, clock)
    finally:
        st.compile_s, st.compiled = clock.seconds, clock.kernels
        src.close()


def _search_open(
    src: _Source, cfg: SearchConfig, st: SearchStats, progress: bool, t_wall: float,
    clock: CompileClock,
) -> list[SearchCandidate]:
    """:func:`search_file` on an opened file: clean each chunk, feed it to the tree, turn
    finished clusters into candidates; fills ``st`` (the progress bar's rate leaves out
    ``clock``'s compilation seconds, as ``st.realtime_factor`` does)."""
    path, freqs, tsamp, nspec = src.path, src.freqs, src.tsamp, src.nspectra
    st.duration_s = nspec * tsamp
    st.tsamp = tsamp
    if freqs.size < 2:
        raise InputError(path, "need at least 2 frequency channels to search for dispersion")
    maxdelay, dm_max, warning = _searchable_sweep(cfg, path, freqs, tsamp, nspec)
    if warning:
        log.warning(warning)
        st.warnings.append(warning)
    st.dm_max_searched = dm_max
    tree = _Tree.create(cfg, freqs, tsamp, maxdelay, dm_max)
    st.levels = len(tree.levels)
    results: list[SearchCandidate] = []
    masked = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=nspec, unit="spectra", unit_scale=True, desc=path.name, leave=False)
    try:
        for start, raw in _iter_chunks(src, cfg.chunk):
            x, nmasked = _clean(raw, cfg)
            masked += nmasked
            results.extend(_to_candidate(c, path, tsamp) for c in tree.feed(x))
            if bar is not None:
                bar.update(raw.shape[1])
                el = max(1e-9, time.perf_counter() - t_wall - clock.seconds)
                bar.set_postfix_str(f"{(start + raw.shape[1]) * tsamp / el:.1f}x real time")
        results.extend(_to_candidate(c, path, tsamp) for c in tree.finish())
    finally:
        if bar is not None:
            bar.close()
    results.sort(key=lambda c: c.tcand)
    st.detections = tree.clusterer.total
    st.candidates = len(results)
    st.masked_fraction = masked / max(1, nspec * freqs.size)
    st.wall_s = time.perf_counter() - t_wall
    return results


def _to_candidate(c: dict, path: Path, tsamp: float) -> SearchCandidate:
    return SearchCandidate(
        file=os.fspath(path), tcand=float(c["t"]) * tsamp, dm=float(c["dm"]), width=int(c["w"]),
        snr=float(c["snr"]), members=int(c["members"]), sample=int(round(float(c["t"]))),
        dm_index=int(c["row"]), level=int(c["level"]),
    )


def search_files(
    paths: Sequence[str | os.PathLike[str]],
    config: SearchConfig,
    progress: bool = False,
) -> tuple[list[SearchCandidate], list[SearchStats]]:
    """Search several files in turn; all candidates (time order within each file) and stats."""
    cands: list[SearchCandidate] = []
    stats: list[SearchStats] = []
    for p in paths:
        s = SearchStats()
        cands.extend(search_file(p, config=config, progress=progress, stats=s))
        stats.append(s)
    return cands, stats


def write_heimdall_cands(
    path: str | os.PathLike[str], cands: Sequence[SearchCandidate], tsamp: float
) -> None:
    """Write one file's candidates as Heimdall ``.cand`` text (tab separated), atomically.

    Columns: snr, sample (of ``tcand``), time (s), filter (``round(log2(width))``), DM trial
    index (at the candidate's tree level), DM, members, first and last sample of the boxcar.
    Unlike :func:`frbtriage.io.candidates.write_heimdall` it keeps the cluster member count
    and accepts boxcar widths that are not powers of two.
    """
    from frbtriage.safe_write import write_text

    lines = []
    for c in cands:
        first = max(0, int(round(c.tcand / tsamp - 0.5 * (c.width - 1))))
        lines.append("\t".join([
            f"{c.snr:.6g}", str(c.sample), repr(float(c.tcand)),
            str(int(round(math.log2(max(1, c.width))))), str(c.dm_index), repr(float(c.dm)),
            str(c.members), str(first), str(first + c.width - 1),
        ]) + "\n")
    write_text(path, "".join(lines))
