"""Boxcar matched-filter S/N over widths for many dedispersed time series, in Numba.

Three steps, each usable alone:

- :func:`robust_normalise` — per row, subtract the median and divide by the
  MAD-based standard deviation (``1.4826 * MAD``), estimated on an evenly strided subsample
  so that it costs ``O(ntime)`` per row; rows with no spread become all zeros;
- :func:`boxcar_snr` — per row and output sample ``t``, the best over ``widths`` of
  ``sum(x[t : t + w]) / sqrt(w)`` (the S/N of a top-hat pulse of ``w`` samples starting at
  ``t`` in unit-variance white noise), with the index of the width that gave it;
- :func:`boxcar_snr_robust` — the same on raw (unnormalised) series, each width normalised
  by its own median and MAD-based sigma of the boxcar-filtered row: exact for white noise
  and immune to red noise (wide boxcars on real data), at about the cost of one pass;
- :func:`find_peaks` — per row, the maximum of each run of consecutive samples at or above
  a threshold: one detection per DM trial and pulse instead of one per sample.

All inputs are ``(ndm, ntime)`` float32 (one dedispersed series per DM trial); rows are
processed in parallel.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["boxcar_snr", "boxcar_snr_robust", "find_peaks", "robust_normalise"]

MAD_TO_SIGMA = 1.482602218505602


@nb.njit(cache=True)
def _select(a, k):  # pragma: no cover - numba
    """k-th smallest of ``a`` (float64, reordered in place): Hoare's quickselect, O(n)."""
    lo = 0
    hi = a.size - 1
    while hi > lo:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]


#: below this size :func:`_median` runs quickselect on the whole array; above it, on the
#: elements between two order statistics of a small sample (Floyd and Rivest's idea)
_MEDIAN_SAMPLE_FROM = 256
#: sample size and half-width (in sample ranks) of the bracket around the sample's median
_MEDIAN_SAMPLE = 64
_MEDIAN_BRACKET = 8


@nb.njit(cache=True)
def _middle(a, k, even):  # pragma: no cover - numba
    """The ``k``-th smallest of ``a`` (reordered in place); with ``even``, its mean with the
    largest of the ``k >= 1`` smaller ones (the two middle values of an even count)."""
    m = _select(a, k)
    if not even:
        return m
    lo = a[0]
    for i in range(1, k):  # after selection, a[:k] holds the smaller ones
        if a[i] > lo:
            lo = a[i]
    return 0.5 * (lo + m)


@nb.njit(cache=True)
def _median_select(a):  # pragma: no cover - numba
    """Median of ``a`` (float64, reordered in place) by quickselect on the whole array."""
    return _middle(a, a.size // 2, a.size % 2 == 0)


@nb.njit(cache=True)
def _median(a):  # pragma: no cover - numba
    """Median of ``a`` (float64, reordered in place), exactly as ``np.median``.

    For large ``a``: two order statistics of an evenly strided sample bracket the median;
    one branch-free pass counts the elements below the bracket and copies those inside it,
    and quickselect runs on that quarter or so of the data only (quickselect's cost is its
    mispredicted branches). When the bracket misses the middle rank(s), or ``a`` holds NaN,
    it falls back to quickselect on the whole array."""
    n = a.size
    if n < _MEDIAN_SAMPLE_FROM:
        return _median_select(a)
    ns = _MEDIAN_SAMPLE
    smp = np.empty(ns, np.float64)
    for i in range(ns):
        smp[i] = a[(i * n) // ns]
    hi = _select(smp, ns // 2 + _MEDIAN_BRACKET)
    lo = _select(smp, ns // 2 - _MEDIAN_BRACKET)
    buf = np.empty(n, np.float64)
    below = 0
    above = 0
    m = 0
    for i in range(n):
        v = a[i]
        b = v < lo
        c = v > hi
        below += b
        above += c
        buf[m] = v
        m += (not b) and (not c)
    k = n // 2  # the upper middle rank; n even also needs k - 1
    k0 = k - 1 if n % 2 == 0 else k
    if below + above + m != n or k0 < below or k >= below + m:
        return _median_select(a)
    return _middle(buf[:m], k - below, n % 2 == 0)  # k0 >= below: k - below >= 1 if even


@nb.njit(parallel=True, cache=True)
def _robust_normalise(x, out, nsub):  # pragma: no cover - numba
    nrow, ntime = x.shape
    step = max(1, ntime // nsub)
    m = (ntime + step - 1) // step
    for r in nb.prange(nrow):
        sub = np.empty(m, np.float64)
        for i in range(m):
            sub[i] = x[r, i * step]
        med = _median(sub)
        for i in range(m):
            sub[i] = abs(sub[i] - med)
        sig = _median(sub) * MAD_TO_SIGMA
        if not (sig > 0.0) or not np.isfinite(sig):
            for t in range(ntime):
                out[r, t] = 0.0
        else:
            inv = 1.0 / sig
            for t in range(ntime):
                out[r, t] = (x[r, t] - med) * inv


def robust_normalise(
    x: NDArray[np.float32], nsub: int = 2048, out: NDArray[np.float32] | None = None
) -> NDArray[np.float32]:
    """Per-row robust standardisation of ``x`` ``(ndm, ntime)``: ``(x - median) / (1.4826 MAD)``.

    The median and MAD are taken over about ``nsub`` evenly strided samples of the row.
    Rows with zero MAD (constant, e.g. fully masked) become zeros. Returns float32
    ``(ndm, ntime)``; ``out`` may be ``x`` itself (in place).
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (ndm, ntime), got shape {x.shape}")
    if nsub < 1:
        raise ValueError("nsub must be >= 1")
    if out is None:
        out = np.empty(x.shape, np.float32)
    if x.shape[1] == 0:
        return out
    _robust_normalise(x, out, int(nsub))
    return out


@nb.njit(parallel=True, cache=True, fastmath=True)
def _boxcar_snr(x, widths, nout, nsub, nvalid, best, bidx):  # pragma: no cover - numba
    nrow, ntime = x.shape
    nw = widths.size
    inv = np.empty(nw, np.float64)
    for k in range(nw):
        inv[k] = 1.0 / np.sqrt(widths[k])
    for r in nb.prange(nrow):
        med = 0.0
        scale = 1.0
        if nsub > 0:  # standardise the row on the fly: (x - median) / (1.4826 MAD)
            nv = min(ntime, max(nvalid[r], 16))  # statistics from the valid part only
            step = max(1, nv // nsub)
            m = (nv + step - 1) // step
            sub = np.empty(m, np.float64)
            for i in range(m):
                sub[i] = x[r, i * step]
            med = _median(sub)
            for i in range(m):
                sub[i] = abs(sub[i] - med)
            sig = _median(sub) * MAD_TO_SIGMA
            scale = 1.0 / sig if (sig > 0.0 and np.isfinite(sig)) else 0.0
        # float32 running sum of the median-subtracted row: no drift, and the width loop
        # below vectorises in single precision (error ~1e-7 * sqrt(ntime) sigma, negligible)
        cs = np.empty(ntime + 1, np.float32)
        acc = np.float32(0.0)
        m32 = np.float32(med)
        cs[0] = 0.0
        for t in range(ntime):
            acc += x[r, t] - m32
            cs[t + 1] = acc
        brow = best[r]
        irow = bidx[r]
        w0 = widths[0]
        f0 = np.float32(inv[0] * scale)
        # the width index is kept as float32 beside the float32 S/N while looping: a blend
        # of two same-width vectors vectorises, a float32/int8 pair does not
        kf = np.zeros(nout, np.float32)
        for t in range(nout):
            brow[t] = (cs[t + w0] - cs[t]) * f0
        for k in range(1, nw):  # width-major: the masked max over widths vectorises
            w = widths[k]
            f = np.float32(inv[k] * scale)
            fk = np.float32(k)
            for t in range(nout):
                v = (cs[t + w] - cs[t]) * f
                if v > brow[t]:
                    brow[t] = v
                    kf[t] = fk
        for t in range(nout):
            irow[t] = np.int8(kf[t])


def boxcar_snr(
    x: NDArray[np.float32],
    widths: ArrayLike,
    nout: int | None = None,
    normalise: bool = False,
    nsub: int = 2048,
    nvalid: ArrayLike | None = None,
    out: tuple[NDArray[np.float32], NDArray[np.int8]] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int8]]:
    """Best boxcar S/N over ``widths`` for each row of ``x`` ``(ndm, ntime)``.

    ``x`` should be normalised (zero median, unit noise sigma; see :func:`robust_normalise`),
    or pass ``normalise=True`` to standardise each row on the fly exactly as
    ``robust_normalise(x, nsub)`` would (one pass less over the data); ``nvalid`` ``(ndm,)``
    then limits the statistics of row ``r`` to its first ``nvalid[r]`` samples (at least 16),
    e.g. the part of a dedispersed row not padded past the end of a file. ``out`` optionally
    gives ``(snr, widx)`` arrays of at least ``(ndm, nout)`` (float32, int8) to fill and
    return views of (a streaming caller avoids re-allocating them per block).
    ``widths`` are positive integers (samples). For output sample ``t`` the boxcar covers
    ``x[:, t : t + w]``; ``nout`` defaults to (and may not exceed) ``ntime - max(widths) + 1``
    so that every boxcar is complete. Returns ``(snr, widx)``, both ``(ndm, nout)``: float32
    S/N ``sum / sqrt(w)`` of the best width, and int8 index into ``widths`` of that width
    (at most 127 widths). Running sums are float32 (relative error ~1e-7 sqrt(ntime)).
    """
    x = np.asarray(x, dtype=np.float32)  # row-strided views (FDMT output) are fine
    if x.ndim == 2 and x.strides[1] != 4:
        x = np.ascontiguousarray(x)
    w = np.asarray(widths, dtype=np.int64).ravel()
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (ndm, ntime), got shape {x.shape}")
    if w.size == 0 or np.any(w < 1):
        raise ValueError("widths must be a non-empty list of positive integers")
    nmax = x.shape[1] - int(w.max()) + 1
    if nout is None:
        nout = max(nmax, 0)
    if nout < 0 or nout > nmax:
        raise ValueError(f"nout={nout} needs ntime >= nout + max(widths) - 1 = "
                         f"{nout + int(w.max()) - 1}, have {x.shape[1]}")
    if normalise and nsub < 1:
        raise ValueError("nsub must be >= 1")
    if w.size > 127:
        raise ValueError("at most 127 widths")
    if out is None:
        best = np.empty((x.shape[0], nout), np.float32)
        bidx = np.empty((x.shape[0], nout), np.int8)
    else:
        b0, i0 = out
        if (b0.dtype != np.float32 or i0.dtype != np.int8 or b0.shape[0] < x.shape[0]
                or b0.shape[1] < nout or i0.shape[0] < x.shape[0] or i0.shape[1] < nout):
            raise ValueError("out arrays too small or of the wrong dtype (float32, int8)")
        best = b0[: x.shape[0], :nout]
        bidx = i0[: x.shape[0], :nout]
    if nout > 0 and x.shape[0] > 0:
        if nvalid is None:
            nv = np.full(x.shape[0], x.shape[1], np.int64)
        else:
            nv = np.asarray(nvalid, dtype=np.int64).ravel()
            if nv.shape != (x.shape[0],):
                raise ValueError(f"nvalid must have shape ({x.shape[0]},), got {nv.shape}")
        _boxcar_snr(x, w, int(nout), int(nsub) if normalise else 0, nv, best, bidx)
    return best, bidx


@nb.njit(parallel=True, cache=True, fastmath=True)
def _boxcar_snr_robust(x, widths, nout, nsub, best, bidx):  # pragma: no cover - numba
    nrow, ntime = x.shape
    nw = widths.size
    for r in nb.prange(nrow):
        cs = np.empty(ntime + 1, np.float64)
        acc = 0.0
        cs[0] = 0.0
        for t in range(ntime):
            acc += x[r, t]
            cs[t + 1] = acc
        med = np.empty(nw, np.float64)
        inv = np.empty(nw, np.float64)
        ok = False
        for k in range(nw):
            w = widths[k]
            n = ntime - w + 1
            step = max(1, n // nsub)
            m = (n + step - 1) // step
            sub = np.empty(m, np.float64)
            for i in range(m):
                t = i * step
                sub[i] = cs[t + w] - cs[t]
            md = _median(sub)
            for i in range(m):
                sub[i] = abs(sub[i] - md)
            sig = _median(sub) * MAD_TO_SIGMA
            med[k] = md
            if sig > 0.0 and np.isfinite(sig):
                inv[k] = 1.0 / sig
                ok = True
            else:
                inv[k] = 0.0
        if not ok:
            for t in range(nout):
                best[r, t] = 0.0
                bidx[r, t] = 0
            continue
        for t in range(nout):
            b = -np.inf
            bi = 0
            for k in range(nw):
                s = (cs[t + widths[k]] - cs[t] - med[k]) * inv[k]
                if s > b:
                    b = s
                    bi = k
            best[r, t] = b
            bidx[r, t] = bi


def boxcar_snr_robust(
    x: NDArray[np.float32], widths: ArrayLike, nout: int | None = None, nsub: int = 1024
) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Best boxcar S/N over ``widths`` for each row of raw series ``x`` ``(ndm, ntime)``.

    For each row and width ``w`` the running sum ``b_w[t] = sum(x[t : t + w])`` is
    standardised by its own median and ``1.4826 * MAD`` over about ``nsub`` evenly strided
    positions; S/N is the standardised ``b_w``, so no ``sqrt(w)`` white-noise assumption is
    made. Rows (or widths) without spread give S/N 0. ``nout`` as in :func:`boxcar_snr`.
    Returns ``(snr, widx)``, both ``(ndm, nout)``.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    w = np.asarray(widths, dtype=np.int64).ravel()
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (ndm, ntime), got shape {x.shape}")
    if w.size == 0 or np.any(w < 1):
        raise ValueError("widths must be a non-empty list of positive integers")
    if nsub < 1:
        raise ValueError("nsub must be >= 1")
    nmax = x.shape[1] - int(w.max()) + 1
    if nout is None:
        nout = max(nmax, 0)
    if nout < 0 or nout > nmax:
        raise ValueError(f"nout={nout} needs ntime >= nout + max(widths) - 1 = "
                         f"{nout + int(w.max()) - 1}, have {x.shape[1]}")
    best = np.empty((x.shape[0], nout), np.float32)
    bidx = np.empty((x.shape[0], nout), np.int32)
    if nout > 0 and x.shape[0] > 0:
        _boxcar_snr_robust(x, w, int(nout), int(nsub), best, bidx)
    return best, bidx


@nb.njit(cache=True)
def _find_peaks(snr, thresh):  # pragma: no cover - numba
    nrow, n = snr.shape
    count = 0
    for r in range(nrow):
        inrun = False
        for t in range(n):
            above = snr[r, t] >= thresh
            if above and not inrun:
                count += 1
            inrun = above
    rows = np.empty(count, np.int64)
    cols = np.empty(count, np.int64)
    k = 0
    for r in range(nrow):
        t = 0
        while t < n:
            if snr[r, t] >= thresh:
                bt = t
                while t < n and snr[r, t] >= thresh:
                    if snr[r, t] > snr[r, bt]:
                        bt = t
                    t += 1
                rows[k] = r
                cols[k] = bt
                k += 1
            else:
                t += 1
    return rows, cols


def find_peaks(
    snr: NDArray[np.float32], threshold: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Run maxima of ``snr`` ``(ndm, nout)`` at or above ``threshold``.

    Each maximal run of consecutive samples ``>= threshold`` in a row gives one detection at
    its largest value (the first one on ties). Returns ``(row, col)`` int64 arrays, ordered by
    row then column.
    """
    snr = np.asarray(snr, dtype=np.float32)  # row-strided views are used as they are
    if snr.ndim == 2 and snr.strides[1] != 4:
        snr = np.ascontiguousarray(snr)
    if snr.ndim != 2:
        raise ValueError(f"snr must be 2-D, got shape {snr.shape}")
    return _find_peaks(snr, np.float32(threshold))
