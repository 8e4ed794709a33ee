"""Fast Dispersion Measure Transform (Zackay & Ofek 2017) in Numba.

The FDMT dedisperses a dynamic spectrum over *every* integer dispersion sweep
``0..maxdelay`` samples at once, in ``O(ndelay * ntime * log2(nchan))`` additions instead of
the brute force's ``O(ndelay * ntime * nchan)``. It merges neighbouring sub-bands pairwise:
the series of a merged sub-band at sweep ``d`` is the series of its upper half at the sweep
that half spans, plus the series of its lower half at the rest of the sweep, shifted by the
delay accumulated down to the lower half's top channel.

Conventions (those of ``docs/CONTRACTS.md``):

- input ``(nchan, ntime)`` float32 with channel centre frequencies ``freqs`` in MHz, in any
  strictly monotonic order (ascending or descending; the plan sorts them);
- delay trial ``d`` is the sweep in samples between the highest and the lowest channel
  (relative to the highest frequency, so every delay is ``>= 0``); channel ``c`` is delayed
  by about ``d * (f_c^-2 - f_top^-2) / (f_bot^-2 - f_top^-2)`` samples;
- output sample ``t`` of trial ``d`` sums input sample ``t + delay_c`` of each channel, so
  it is the arrival time at the top of the band; nothing wraps around: an input of
  ``ntime`` samples gives ``ntime - maxdelay`` output samples, all complete;
- a plan may start at a ``mindelay`` > 0: it then computes only trials
  ``mindelay..maxdelay`` (each sub-band only the range of its own sweeps those need), the rows
  of the full plan's trials exactly, at the cost of the range alone: a DM plan's stages
  (``frbtriage.search``) each dedisperse their own DM range;
- no intra-channel sweep is modelled (each channel enters with a single delay, as in the
  brute force), so trial ``d`` matches the brute force with rounded delays to within the
  rounding of the tree: per-channel delays differ by at most 2 samples, 0.3 on average
  (measured for 256-1024 channels over 400-800 MHz).

The plan follows the ``f^-2`` shape of the sweep but no physical constant: the kernels work on
integer sweeps. Only the sweep <-> DM helpers need the dispersion constant, and take it from
``frbtriage.physics`` (its one home, the floor below the kernels; see ``docs/CONTRACTS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
from numpy.typing import ArrayLike, NDArray

from frbtriage.physics import sweep_seconds

__all__ = [
    "FdmtPlan",
    "delay_to_dm",
    "dm_to_delay",
    "fdmt",
    "fdmt_channel_delays",
    "fdmt_plan",
]


def delay_to_dm(delay: ArrayLike, f_lo_mhz: float, f_hi_mhz: float, tsamp_s: float) -> NDArray:
    """DM (pc cm^-3) whose sweep across ``[f_lo_mhz, f_hi_mhz]`` is ``delay`` samples of
    ``tsamp_s`` seconds. Use the lowest and highest *channel* frequencies of the FDMT input."""
    return np.asarray(delay, dtype=np.float64) * tsamp_s / sweep_seconds(1.0, f_lo_mhz, f_hi_mhz)


def dm_to_delay(dm: ArrayLike, f_lo_mhz: float, f_hi_mhz: float, tsamp_s: float) -> NDArray:
    """Sweep in (fractional) samples across ``[f_lo_mhz, f_hi_mhz]`` at ``dm`` pc cm^-3;
    ``ceil`` it to get the ``maxdelay`` that covers ``dm``."""
    return np.asarray(dm, dtype=np.float64) * sweep_seconds(1.0, f_lo_mhz, f_hi_mhz) / tsamp_s


@dataclass(frozen=True)
class FdmtPlan:
    """Precomputed merge tree for one set of channel frequencies and one ``maxdelay``.

    ``levels[i]`` is ``(hi, lo, shift, dval)``, int64 arrays of one entry per output row of
    merge level ``i``: output row ``r`` is ``src[hi[r], t] + src[lo[r], t + shift[r]]``
    (``lo[r] == -1``: a copy of ``src[hi[r]]``), valid for ``t < ntime - dval[r]``.
    Level 0 reads the input channels directly (row = input channel index).
    The last level's rows are the trials ``mindelay..maxdelay`` in order.
    """

    nchan: int
    maxdelay: int
    freqs: NDArray[np.float64]
    levels: tuple[tuple[NDArray[np.int64], ...], ...]
    max_rows: int
    # python-side tree for fdmt_channel_delays: per level, per output row
    # (hi_row, lo_row, d_hi, d_mid, d_lo) with rows into the previous level (-1: none)
    _trace: tuple[NDArray[np.int64], ...]
    mindelay: int = 0

    @property
    def ndelay(self) -> int:
        """Number of output trials, ``maxdelay - mindelay + 1``."""
        return self.maxdelay - self.mindelay + 1


class _Node:
    __slots__ = ("f_lo", "f_hi", "hi", "lo", "chan", "dlo", "ndel", "row0")

    def __init__(self, f_lo: float, f_hi: float, hi=None, lo=None, chan: int = -1) -> None:
        self.f_lo, self.f_hi, self.hi, self.lo, self.chan = f_lo, f_hi, hi, lo, chan
        self.dlo = 0  # first sweep this node provides
        self.ndel = 0  # number of sweeps it provides: dlo .. dlo + ndel - 1
        self.row0 = 0


def _split(node: _Node, d: NDArray[np.int64]) -> tuple[NDArray, NDArray, NDArray]:
    """Sweeps of the upper child, the offset of the lower child, and the lower child's sweep."""
    if node.lo is None:  # carried node: identity
        return d, np.zeros_like(d), np.zeros_like(d)
    ft, fb = node.f_hi, node.f_lo
    span = fb**-2.0 - ft**-2.0
    g_hi = (node.hi.f_lo**-2.0 - ft**-2.0) / span
    g_mid = (node.lo.f_hi**-2.0 - ft**-2.0) / span
    d_hi = np.rint(d * g_hi).astype(np.int64)
    d_mid = np.rint(d * g_mid).astype(np.int64)
    return d_hi, d_mid, d - d_mid


def fdmt_plan(freqs_mhz: ArrayLike, maxdelay: int, mindelay: int = 0) -> FdmtPlan:
    """Build the merge tree for channels at ``freqs_mhz`` (shape ``(nchan,)``, MHz, strictly
    monotonic, any direction) and trials ``mindelay..maxdelay`` (sweep in samples across the
    band; ``0 <= mindelay <= maxdelay``)."""
    freqs = np.asarray(freqs_mhz, dtype=np.float64)
    nchan = freqs.size
    if freqs.ndim != 1 or nchan < 1:
        raise ValueError("freqs must be a non-empty 1-D array")
    if int(maxdelay) < 0:
        raise ValueError(f"maxdelay must be >= 0, got {maxdelay}")
    maxdelay = int(maxdelay)
    mindelay = int(mindelay)
    if not 0 <= mindelay <= maxdelay:
        raise ValueError(f"need 0 <= mindelay <= maxdelay, got {mindelay}..{maxdelay}")
    if nchan > 1:
        dif = np.diff(freqs)
        if not (np.all(dif > 0) or np.all(dif < 0)):
            raise ValueError("freqs must be strictly monotonic")
    elif maxdelay != 0:
        raise ValueError("a single channel has no sweep: maxdelay must be 0")
    order = np.argsort(freqs)
    # bottom-up tree: pair neighbours (ascending frequency), carry an odd last node
    tiers: list[list[_Node]] = [[_Node(freqs[c], freqs[c], chan=int(c)) for c in order]]
    while len(tiers[-1]) > 1:
        prev = tiers[-1]
        nxt = []
        for i in range(0, len(prev) - 1, 2):
            lo, hi = prev[i], prev[i + 1]
            nxt.append(_Node(lo.f_lo, hi.f_hi, hi=hi, lo=lo))
        if len(prev) % 2:
            p = prev[-1]
            nxt.append(_Node(p.f_lo, p.f_hi, hi=p, lo=None))
        tiers.append(nxt)
    # top-down: which sweeps each node must provide (a contiguous range: the splits are
    # monotonic in the sweep; every node has one parent)
    tiers[-1][0].dlo = mindelay
    tiers[-1][0].ndel = maxdelay - mindelay + 1
    for tier in reversed(tiers[1:]):
        for node in tier:
            d = node.dlo + np.arange(node.ndel, dtype=np.int64)
            d_hi, _, d_lo = _split(node, d)
            node.hi.dlo, node.hi.ndel = int(d_hi.min()), int(d_hi.max() - d_hi.min()) + 1
            if node.lo is not None:
                node.lo.dlo, node.lo.ndel = int(d_lo.min()), int(d_lo.max() - d_lo.min()) + 1
    for node in tiers[0]:
        if node.ndel > 1 or node.dlo != 0:  # cannot happen for distinct frequencies
            raise AssertionError("a single channel was asked for a non-zero sweep")
        node.row0 = node.chan
        node.ndel = 1
    levels = []
    trace = []
    max_rows = 0
    for tier in tiers[1:]:
        row = 0
        for node in tier:
            node.row0 = row
            row += node.ndel
        max_rows = max(max_rows, row)
        hi = np.empty(row, np.int64)
        lo = np.empty(row, np.int64)
        shift = np.empty(row, np.int64)
        dval = np.empty(row, np.int64)
        tr = np.empty((row, 5), np.int64)
        for node in tier:
            d = node.dlo + np.arange(node.ndel, dtype=np.int64)
            d_hi, d_mid, d_lo = _split(node, d)
            sl = slice(node.row0, node.row0 + node.ndel)
            hi[sl] = node.hi.row0 + d_hi - node.hi.dlo
            if node.lo is None:
                lo[sl] = -1
                shift[sl] = 0
            else:
                lo[sl] = node.lo.row0 + d_lo - node.lo.dlo
                shift[sl] = d_mid
            dval[sl] = d
            tr[sl, 0] = hi[sl]
            tr[sl, 1] = lo[sl]
            tr[sl, 2] = d_hi
            tr[sl, 3] = shift[sl]
            tr[sl, 4] = d_lo
        levels.append((hi, lo, shift, dval))
        trace.append(tr)
    return FdmtPlan(nchan, maxdelay, freqs, tuple(levels), max(max_rows, 1), tuple(trace),
                    mindelay)


def fdmt_channel_delays(plan: FdmtPlan, delay: int) -> NDArray[np.int64]:
    """Effective per-channel delays (samples, shape ``(nchan,)``, input channel order) that the
    FDMT applies for trial ``delay`` (``plan.mindelay..plan.maxdelay``); compare with
    ``physics.delay_samples`` rounding."""
    if not plan.mindelay <= int(delay) <= plan.maxdelay:
        raise ValueError(f"trial {delay} outside the plan's {plan.mindelay}..{plan.maxdelay}")
    out = np.full(plan.nchan, -1, np.int64)
    if not plan.levels:
        out[0] = 0
        return out
    stack = [(len(plan.levels) - 1, int(delay) - plan.mindelay, 0)]
    while stack:
        lev, row, off = stack.pop()
        if lev < 0:
            out[row] = off
            continue
        h, lo_row, _, d_mid, _ = plan._trace[lev][row]
        stack.append((lev - 1, int(h), off))
        if lo_row >= 0:
            stack.append((lev - 1, int(lo_row), off + int(d_mid)))
    return out


@nb.njit(parallel=True, cache=True, fastmath=True)
def _fdmt_level(src, dst, hi, lo, shift, dval, ntime):  # pragma: no cover - numba
    nrow = hi.size
    for r in nb.prange(nrow):
        n = ntime - dval[r]
        h = hi[r]
        lr = lo[r]
        if lr < 0:
            for t in range(n):
                dst[r, t] = src[h, t]
        else:
            s = shift[r]
            for t in range(n):
                dst[r, t] = src[h, t] + src[lr, t + s]


def fdmt(
    data: NDArray[np.float32],
    plan: FdmtPlan,
    work: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None,
) -> NDArray[np.float32]:
    """Dedisperse ``data`` ``(nchan, ntime)`` float32 over sweeps
    ``plan.mindelay..plan.maxdelay``.

    Returns ``(plan.ndelay, ntime - plan.maxdelay)`` float32: row ``i`` is the time series
    dedispersed at a sweep of ``d = plan.mindelay + i`` samples across the band, sample ``t`` =
    arrival time at the highest frequency. ``work`` optionally supplies two scratch arrays of at
    least ``(plan.max_rows, ntime)`` (reused across calls by streaming callers); the result is a
    view into one of them when given.
    """
    data = np.asarray(data, dtype=np.float32)  # row-strided views are used as they are
    if data.ndim == 2 and data.strides[1] != 4:
        data = np.ascontiguousarray(data)
    if data.ndim != 2 or data.shape[0] != plan.nchan:
        raise ValueError(f"data must be (nchan={plan.nchan}, ntime), got {data.shape}")
    ntime = data.shape[1]
    if ntime <= plan.maxdelay:
        raise ValueError(f"need more than maxdelay={plan.maxdelay} samples, got {ntime}")
    nout = ntime - plan.maxdelay
    if not plan.levels:
        return data[:, :nout].copy()
    if work is None:
        bufs = [np.empty((plan.max_rows, ntime), np.float32) for _ in range(2)]
    else:
        bufs = list(work)
        for b in bufs:
            if b.shape[0] < plan.max_rows or b.shape[1] < ntime or b.dtype != np.float32:
                raise ValueError("work arrays too small")
    src = data
    for i, (hi, lo, shift, dval) in enumerate(plan.levels):
        dst = bufs[i % 2]
        _fdmt_level(src, dst, hi, lo, shift, dval, ntime)
        src = dst
    return src[: plan.ndelay, :nout]
