"""Both candidate images' sums straight from the file's samples, one channel block at a time.

A candidate's FETCH images need, per channel ``c``, only its first ``need[c]`` samples of
the window (``nout * decim`` kept samples plus the channel's largest delay). The earlier
path converted those from the file's time-major bytes into a channel-major float32 window
(memory-bound: it writes 4x the bytes it reads) and then ran the DM-time sum over it at full
time resolution (``decim`` times the adds the decimated image needs). :func:`candidate_sums`
does both in one pass over the channels:

1. time-major input (a filterbank's memory map, uint8/uint16/float32, read in place): a
   task takes ``lblock`` channels (64 bytes of each 8-bit spectrum, a cache line) and
   transposes their needed samples in tiles into a channel-major buffer of the file's own
   dtype, each channel's samples already split by phase, ``X[c, r*M + m] = x[c, m*decim +
   r]``; channel-major float32 input is split row by row;
2. each ``cblock`` of those channels becomes float32 boxcar sums split by phase,
   ``Z[c, r*M + m] = sum_{k<decim} x[c, m*decim + r + k]`` (phase 0 as ``decim`` row adds,
   each later phase from the one before by one subtract and one add, all contiguous), so
   that with a delay ``q*decim + r`` the decimated sample ``j`` is ``Z[c, r*M + q + j]``:
   every pixel is one add per channel whatever ``decim`` is (256 x 256 x nchan adds for
   ``dmt``, where the full-resolution sum took ``decim`` times as many);
3. the block is added into both images: each DM trial sums the block's kept channels
   (four at a time, into an L1 accumulator) into the task's partial ``dmt``; ``ft`` rows
   are copied out. The tasks' partial ``dmt``s are summed at the end.

The whole float32 window never exists: a task's buffers are ``lblock`` x ``max(need)``
samples of the file's dtype and ``cblock`` x ``max(need)`` float32 (L2-sized at low DM).
Masked channels (``keep[c]`` False) are never read and give zero rows in ``ft``. Sums of
8-bit samples are integers below 2**24, so they are exact in float32 and do not depend on
the order of the adds, the block sizes or the thread count.

Plain Numba, no physics: the caller passes integer delays (``frbtriage.physics``).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray

from .dedisperse import as_delays

__all__ = ["candidate_sums"]

#: Channels per float32 block, per transposed load, and spectra per transpose tile. Measured
#: on the development machine (1024 channels, DM 100-1170, decim 2-16, CPU time of one
#: thread): blocks of 8 / 16 / 32 within ~10 % of each other (32 spills L2 at DM >~ 300);
#: loads of 16 channels (16 bytes of each 64-byte line) cost ~1.3x loads of 64 or 128.
CBLOCK = 16
LBLOCK = 64
TBLOCK = 64


@njit(cache=True)
def _divmod_delays(dl, decim, q, r):  # pragma: no cover - compiled
    """q, r = divmod(dl, decim) (delays >= 0)."""
    for d in range(dl.shape[0]):
        for c in range(dl.shape[1]):
            v = dl[d, c]
            qq = v // decim
            q[d, c] = qq
            r[d, c] = v - qq * decim


@njit(cache=True)
def _kept(c0, c1, need, keep, kept, ft):  # pragma: no cover - compiled
    """Fill ``kept`` with the kept channels of ``c0 .. c1 - 1``, zero the masked ones' ``ft``
    rows; return (how many are kept, their largest ``need``)."""
    nk = 0
    hi = 0
    for c in range(c0, c1):
        if keep[c]:
            kept[nk] = c
            nk += 1
            hi = max(hi, need[c])
        else:
            ft[c, :] = 0.0
    return nk, hi


@njit(cache=True)
def _boxcar_phases(xp, xoff, zb, zoff, kept, nk, need, decim, m_len):  # pragma: no cover
    """From samples stored split by phase, ``xp[c - xoff, r*m_len + m] = x[c, m*decim + r]``,
    the boxcar sums ``zb[c - zoff, r*m_len + m] = sum_{k<decim} x[c, m*decim + r + k]``
    (float32) of the kept channels ``c`` for every ``m`` with ``m*decim + r + decim <=
    need[c]``: phase 0 as ``decim`` row adds, each later phase from the one before by one
    subtract and one add; all loops contiguous. Exact for integer samples."""
    for k in range(nk):
        c = kept[k]
        xr = xp[c - xoff]
        zr = zb[c - zoff]
        n = need[c]
        if decim == 1:
            src = xr[:n]
            for i in range(n):
                zr[i] = np.float32(src[i])
            continue
        m0 = (n - decim) // decim + 1
        z0 = zr[:m0]
        z0[:] = 0.0
        for ph in range(decim):
            src = xr[ph * m_len : ph * m_len + m0]
            for m in range(m0):
                z0[m] += np.float32(src[m])
        for ph in range(1, decim):
            mr = (n - decim - ph) // decim + 1
            if mr <= 0:
                break
            prev = zr[(ph - 1) * m_len : (ph - 1) * m_len + mr]
            cur = zr[ph * m_len : ph * m_len + mr]
            lo = xr[(ph - 1) * m_len : (ph - 1) * m_len + mr]
            up = xr[(ph - 1) * m_len + 1 : (ph - 1) * m_len + 1 + mr]
            for m in range(mr):
                cur[m] = (prev[m] - np.float32(lo[m])) + np.float32(up[m])


@njit(cache=True)
def _split_row(src, n, decim, m_len, dst):  # pragma: no cover - compiled
    """``dst[r*m_len + m] = src[m*decim + r]`` for ``m*decim + r < n``."""
    for ph in range(decim):
        row = dst[ph * m_len : (ph + 1) * m_len]
        m = 0
        t = ph
        while t < n:
            row[m] = src[t]
            m += 1
            t += decim


@njit(cache=True)
def _accumulate(z, zoff, kept, nk, m_len, q, r, qft, rft, nout, inv, ft,
                part):  # pragma: no cover - compiled
    """Add the kept channels (rows ``c - zoff`` of the phase-split ``z``) into every DM trial
    of ``part`` (ndm, nout) and write their ``ft`` rows. The accumulator is allocated here:
    LLVM vectorises the adds only when it can see that it aliases no input row."""
    acc = np.empty(nout, dtype=np.float32)
    for k in range(nk):
        c = kept[k]
        o = rft[c] * m_len + qft[c]
        src = z[c - zoff, o : o + nout]
        dst = ft[c]
        for i in range(nout):
            dst[i] = src[i] * inv
    ndm = q.shape[0]
    for d in range(ndm):
        qd = q[d]
        rd = r[d]
        acc[:] = 0.0
        k = 0
        while k + 4 <= nk:
            c = kept[k]
            o = rd[c] * m_len + qd[c]
            a = z[c - zoff, o : o + nout]
            c = kept[k + 1]
            o = rd[c] * m_len + qd[c]
            b = z[c - zoff, o : o + nout]
            c = kept[k + 2]
            o = rd[c] * m_len + qd[c]
            e = z[c - zoff, o : o + nout]
            c = kept[k + 3]
            o = rd[c] * m_len + qd[c]
            f = z[c - zoff, o : o + nout]
            for i in range(nout):
                acc[i] += (a[i] + b[i]) + (e[i] + f[i])
            k += 4
        while k < nk:
            c = kept[k]
            o = rd[c] * m_len + qd[c]
            a = z[c - zoff, o : o + nout]
            for i in range(nout):
                acc[i] += a[i]
            k += 1
        row = part[d]
        for i in range(nout):
            row[i] += acc[i]


@njit(parallel=True, cache=True)
def _sums_time_major(raw, need, keep, decim, q, r, qft, rft, nout, cblock, lblock, tblock,
                     width, parts, ft):  # pragma: no cover - compiled
    """``raw`` (ntime, nchan) any real dtype, time-major; see :func:`candidate_sums`. Tasks
    take loads of ``lblock`` channels in turn: the load's needed samples are transposed
    (tiles of ``tblock`` spectra) into a channel-major buffer of the file's dtype (a wide
    load reads whole cache lines of the file), then each ``cblock`` of it is phase-split
    into float32 and added into the images. ``width``: buffer row length (>= every kept
    ``need``, a multiple of ``decim``); ``parts`` (ntask, ndm, nout) zeros."""
    nchan = raw.shape[1]
    ntask = parts.shape[0]
    nload = (nchan + lblock - 1) // lblock
    inv = np.float32(1.0 / decim)
    for task in prange(ntask):
        xb = np.empty((lblock, width), dtype=raw.dtype)
        zb = np.empty((cblock, width), dtype=np.float32)
        kept = np.empty(cblock, dtype=np.int64)
        part = parts[task]
        for b in range(task, nload, ntask):
            l0 = b * lblock
            l1 = min(nchan, l0 + lblock)
            hi = 0
            for c in range(l0, l1):
                if keep[c]:
                    hi = max(hi, need[c])
            m_len = (hi + decim - 1) // decim
            tb = decim * max(1, tblock // decim)  # tiles start on multiples of decim
            for t0 in range(0, hi, tb):
                tile = raw[t0 : min(t0 + tb, hi), l0:l1]
                nt = tile.shape[0]
                m_0 = t0 // decim
                for c in range(l0, l1):
                    n = min(nt, need[c] - t0)
                    if n <= 0 or not keep[c]:
                        continue
                    kk = c - l0
                    dst = xb[kk]
                    for ph in range(min(decim, n)):
                        row = dst[ph * m_len + m_0 : (ph + 1) * m_len]
                        m = 0
                        for i in range(ph, n, decim):
                            row[m] = tile[i, kk]
                            m += 1
            for c0 in range(l0, l1, cblock):
                nk, _ = _kept(c0, min(l1, c0 + cblock), need, keep, kept, ft)
                if nk == 0:
                    continue
                _boxcar_phases(xb, l0, zb, c0, kept, nk, need, decim, m_len)
                _accumulate(zb, c0, kept, nk, m_len, q, r, qft, rft, nout, inv, ft, part)


@njit(parallel=True, cache=True)
def _sums_chan_major(data, need, keep, decim, q, r, qft, rft, nout, cblock, width, parts,
                     ft):  # pragma: no cover - compiled
    """``data`` (nchan, ntime) float32, channel-major; see :func:`candidate_sums` and
    :func:`_sums_time_major` for ``width`` and ``parts``."""
    nchan = data.shape[0]
    ntask = parts.shape[0]
    nblk = (nchan + cblock - 1) // cblock
    inv = np.float32(1.0 / decim)
    for task in prange(ntask):
        xp = np.empty((cblock, width if decim > 1 else 1), dtype=np.float32)
        zb = np.empty((cblock, width if decim > 1 else 1), dtype=np.float32)
        kept = np.empty(cblock, dtype=np.int64)
        part = parts[task]
        for b in range(task, nblk, ntask):
            c0 = b * cblock
            nk, hi = _kept(c0, min(nchan, c0 + cblock), need, keep, kept, ft)
            if nk == 0:
                continue
            if decim == 1:
                _accumulate(data, 0, kept, nk, 0, q, r, qft, rft, nout, inv, ft, part)
            else:
                m_len = (hi + decim - 1) // decim
                for k in range(nk):
                    c = kept[k]
                    _split_row(data[c], need[c], decim, m_len, xp[c - c0])
                _boxcar_phases(xp, c0, zb, c0, kept, nk, need, decim, m_len)
                _accumulate(zb, c0, kept, nk, m_len, q, r, qft, rft, nout, inv, ft, part)


def candidate_sums(
    data: ArrayLike,
    need: ArrayLike,
    dmt_delays: ArrayLike,
    ft_delays: ArrayLike,
    nout: int,
    decim: int = 1,
    keep: ArrayLike | None = None,
    time_major: bool = False,
    cblock: int = CBLOCK,
    lblock: int = LBLOCK,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Un-normalised DM-time and dedispersed images of a window, fused with its conversion.

    Parameters
    ----------
    data : the window, ``(ntime, nchan)`` time-major as a filterbank stores it
        (``time_major=True``; uint8, uint16, float32 or any real dtype, read in place, e.g. a
        memory map) or ``(nchan, ntime)`` channel-major (converted to float32 if it is not).
        Write ``x[c, t]`` for its sample ``t`` of channel ``c``.
    need : (nchan,) samples of each channel that may be read: only ``x[c, :need[c]]`` is.
    dmt_delays : (ndm, nchan) integer delays in samples, ``>= 0``, one row per DM trial.
    ft_delays : (nchan,) integer delays, ``>= 0``, of the dedispersed image.
    nout, decim : output samples, and input samples averaged into each.
    keep : (nchan,) bool, False for channels left out (masked); default all kept.

    Returns
    -------
    ``(dmt (ndm, nout), ft (nchan, nout))`` float32 with, ``K`` the kept channels,

    ``dmt[d, j] = mean_{k<decim} sum_{c in K} x[c, j*decim + k + dmt_delays[d, c]]``,
    ``ft[c, j] = mean_{k<decim} x[c, j*decim + k + ft_delays[c]]`` for ``c`` in ``K``, else 0,

    i.e. ``kernels.bowtie.dm_time(x_masked, dmt_delays, 0, nout, decim)`` and the decimated
    ``kernels.dedisperse.dedisperse(x_masked, ft_delays, 0, nout*decim)``. Non-finite input
    samples propagate into the outputs (callers that must give them zero weight check).

    Raises ``ValueError`` when shapes disagree, a delay is negative, or a kept channel's
    ``need`` is shorter than ``nout*decim`` plus its largest delay or longer than the data.
    """
    arr = np.asarray(data)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"data must be a non-empty 2-D array, got shape {arr.shape}")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"data must hold real numbers, got dtype {arr.dtype}")
    nchan, ntime = (arr.shape[1], arr.shape[0]) if time_major else arr.shape
    nout, decim, cblock = int(nout), int(decim), int(cblock)
    if nout < 1 or decim < 1 or cblock < 1:
        raise ValueError(f"nout, decim and cblock must be >= 1, got {nout}, {decim}, {cblock}")
    dl = as_delays(dmt_delays, nchan, 2, "dmt_delays")
    fd = as_delays(ft_delays, nchan, 1, "ft_delays")
    nd = np.ascontiguousarray(np.asarray(need), dtype=np.int64)
    if nd.shape != (nchan,):
        raise ValueError(f"need must have shape ({nchan},), got {nd.shape}")
    kp = (np.ones(nchan, dtype=np.bool_) if keep is None
          else np.ascontiguousarray(np.asarray(keep), dtype=np.bool_))
    if kp.shape != (nchan,):
        raise ValueError(f"keep must have shape ({nchan},), got {kp.shape}")
    if min(int(dl.min()), int(fd.min())) < 0:
        raise ValueError("delays must be >= 0 samples")
    want = nout * decim + np.maximum(dl.max(axis=0), fd)
    short = np.flatnonzero(kp & ((nd < want) | (nd > ntime)))
    if short.size:
        c = int(short[0])
        raise ValueError(f"channel {c} needs {int(want[c])} samples (nout*decim + its largest "
                         f"delay) within the data's {ntime}, but need[{c}] = {int(nd[c])}")
    if decim == 1:
        q, r, qft, rft = dl, np.zeros_like(dl), fd, np.zeros_like(fd)
    else:
        q, r = np.empty_like(dl), np.empty_like(dl)
        _divmod_delays(dl, decim, q, r)
        qft, rft = fd // decim, fd % decim
    lblock = max(cblock, int(lblock))
    ntask = max(1, min(numba.get_num_threads(), -(-nchan // (lblock if time_major else cblock))))
    parts = np.zeros((ntask, dl.shape[0], nout), dtype=np.float32)
    ft = np.empty((nchan, nout), dtype=np.float32)
    width = decim * -(-int(nd[kp].max(initial=1)) // decim)  # buffer rows: every kept need
    if time_major:
        _sums_time_major(arr, nd, kp, decim, q, r, qft, rft, nout, cblock, lblock, TBLOCK,
                         width, parts, ft)
    else:
        x = np.ascontiguousarray(arr, dtype=np.float32)
        _sums_chan_major(x, nd, kp, decim, q, r, qft, rft, nout, cblock, width, parts, ft)
    dmt = parts[0] if ntask == 1 else parts.sum(axis=0, dtype=np.float32)
    if decim > 1:
        dmt *= np.float32(1.0 / decim)
    return dmt, ft
