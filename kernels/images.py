"""Both candidate images' sums straight from the file's samples, one channel block at a time.

A candidate's FETCH images need, per channel ``c``, only its first ``need[c]`` samples of
the window (``nout * decim`` kept samples plus the channel's largest delay). The earlier
path converted those from the file's time-major bytes into a channel-major float32 window
(memory-bound: it writes 4x the bytes it reads) and then ran the DM-time sum over it at full
time resolution (``decim`` times the adds the decimated image needs). :func:`candidate_sums`
does both in one pass over the channels:

1. time-major input (a filterbank's memory map, uint8/uint16/float32, read in place): a
   task takes ``lblock`` channels (64 bytes of each 8-bit spectrum, a cache line) and
   transposes their needed samples into a channel-major buffer of the file's own dtype,
   each channel's samples already split by phase, ``X[c, r*M + m] = x[c, m*decim + r]``.
   8-bit data go 8 x 8 bytes at a time (8 words of 8 channels, one phase, transposed in
   registers: ~5x faster than a byte-by-byte copy), others in tiles of spectra;
   channel-major float32 input is split row by row;
2. each ``cblock`` of those channels becomes boxcar sums split by phase,
   ``Z[c, r*M + m] = sum_{k<decim} x[c, m*decim + r + k]`` (phase 0 as ``decim`` row adds,
   each later phase from the one before by one subtract and one add, all contiguous), so
   that with a delay ``q*decim + r`` the decimated sample ``j`` is ``Z[c, r*M + q + j]``:
   every pixel is one add per channel whatever ``decim`` is (256 x 256 x nchan adds for
   ``dmt``, where the full-resolution sum took ``decim`` times as many). The sums are
   uint16 for 8-bit data while a block's largest, ``255 * decim * cblock``, fits (half the
   bytes to load per add of float32: the adds are load-bound), float32 otherwise;
3. the block is added into both images: each DM trial sums the block's kept channels
   (a block is ``cblock`` kept channels of a load, so masked channels do not leave it
   short; eight at a time, into an L1 accumulator) into the task's float32 partial ``dmt``;
   ``ft`` rows are copied out. The tasks' partial ``dmt``s are summed at the end.

The whole float32 window never exists: a task's buffers are ``lblock`` x ``max(need)``
samples of the file's dtype and ``cblock`` x ``max(need)`` sums (L2-sized at low DM).
Masked channels (``keep[c]`` False) give zero rows in ``ft`` and are never read, except
that the 8 x 8 transpose copies whole words of 8 channels and every load's samples up to
its largest ``need`` (within the window; never summed). Sums of 8-bit samples are integers
below 2**24, so they are exact in float32 and do not depend on the order of the adds, the
block sizes, the thread count or the transpose.

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
def _offsets(dl, decim, m_len, off):  # pragma: no cover - compiled
    """``off = r * m_len + q`` with ``q, r = divmod(dl, decim)`` (delays >= 0, below 2**52):
    where a delay's decimated samples start in a phase-split row. By a float reciprocal and
    one correction each way: an integer division per delay costs ~10x more (the 262144
    delays of a 1024-channel candidate: 0.7 ms)."""
    inv = 1.0 / decim
    for d in range(dl.shape[0]):
        for c in range(dl.shape[1]):
            v = dl[d, c]
            qq = np.int64(v * inv)
            rr = v - qq * decim
            if rr < 0:
                qq -= 1
                rr += decim
            elif rr >= decim:
                qq += 1
                rr -= decim
            off[d, c] = rr * m_len + qq


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
def _boxcar_phases(xp, xoff, zb, kept, nk, need, decim, m_len):  # pragma: no cover
    """From samples stored split by phase, ``xp[c - xoff, r*m_len + m] = x[c, m*decim + r]``,
    the boxcar sums ``zb[k, r*m_len + m] = sum_{j<decim} x[c, m*decim + r + j]``
    (in ``zb``'s dtype: float32, or uint16 for 8-bit samples when ``255 * decim`` fits) of
    the kept channels ``c = kept[k]`` for every ``m`` with ``m*decim + r + decim <= need[c]``: phase
    0 as ``decim`` row adds, each later phase from the one before by one subtract and one
    add (modular in uint16, so exact); all loops contiguous. Exact for integer samples."""
    t = zb.dtype.type
    for k in range(nk):
        c = kept[k]
        xr = xp[c - xoff]
        zr = zb[k]
        n = need[c]
        if decim == 1:
            src = xr[:n]
            for i in range(n):
                zr[i] = t(src[i])
            continue
        m0 = (n - decim) // decim + 1
        z0 = zr[:m0]
        z0[:] = t(0)
        for ph in range(decim):
            src = xr[ph * m_len : ph * m_len + m0]
            for m in range(m0):
                z0[m] = t(z0[m] + t(src[m]))
        for ph in range(1, decim):
            mr = (n - decim - ph) // decim + 1
            if mr <= 0:
                break
            prev = zr[(ph - 1) * m_len : (ph - 1) * m_len + mr]
            cur = zr[ph * m_len : ph * m_len + mr]
            lo = xr[(ph - 1) * m_len : (ph - 1) * m_len + mr]
            up = xr[(ph - 1) * m_len + 1 : (ph - 1) * m_len + 1 + mr]
            for m in range(mr):
                cur[m] = t(t(prev[m] - t(lo[m])) + t(up[m]))


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
def _accumulate(z, rows, kept, nk, off, offt, nout, inv, ft, part):  # pragma: no cover
    """Add the kept channels ``c = kept[k]`` (row ``rows[k]`` of the phase-split ``z``) into
    every DM trial of ``part`` (ndm, nout) and write their ``ft`` rows; trial ``d`` of
    channel ``c`` reads ``nout`` samples from ``off[d, c]``, the ``ft`` row from ``offt[c]``
    (:func:`_offsets`).
    The accumulator, of ``z``'s dtype (uint16 sums of 8-bit samples take half the loads of
    float32; the caller keeps them below 2**16), is allocated here: LLVM vectorises the adds
    only when it can see that it aliases no input row. Channels go eight at a time (one
    accumulator pass per eight rows: ~10 % faster than four at a time), the rest one by
    one."""
    t = z.dtype.type
    acc = np.empty(nout, dtype=z.dtype)
    for k in range(nk):
        c = kept[k]
        o = offt[c]
        src = z[rows[k], o : o + nout]
        dst = ft[c]
        for i in range(nout):
            dst[i] = np.float32(src[i]) * inv
    for d in range(off.shape[0]):
        od = off[d]
        acc[:] = t(0)
        k = 0
        while k + 8 <= nk:
            r0 = z[rows[k], od[kept[k]] : od[kept[k]] + nout]
            r1 = z[rows[k + 1], od[kept[k + 1]] : od[kept[k + 1]] + nout]
            r2 = z[rows[k + 2], od[kept[k + 2]] : od[kept[k + 2]] + nout]
            r3 = z[rows[k + 3], od[kept[k + 3]] : od[kept[k + 3]] + nout]
            r4 = z[rows[k + 4], od[kept[k + 4]] : od[kept[k + 4]] + nout]
            r5 = z[rows[k + 5], od[kept[k + 5]] : od[kept[k + 5]] + nout]
            r6 = z[rows[k + 6], od[kept[k + 6]] : od[kept[k + 6]] + nout]
            r7 = z[rows[k + 7], od[kept[k + 7]] : od[kept[k + 7]] + nout]
            for i in range(nout):
                acc[i] = t(acc[i] + t(t(t(r0[i] + r1[i]) + t(r2[i] + r3[i]))
                                      + t(t(r4[i] + r5[i]) + t(r6[i] + r7[i]))))
            k += 8
        while k < nk:
            c = kept[k]
            o = od[c]
            a = z[rows[k], o : o + nout]
            for i in range(nout):
                acc[i] = t(acc[i] + a[i])
            k += 1
        row = part[d]
        for i in range(nout):
            row[i] += np.float32(acc[i])


_S8, _S16, _S32 = np.uint64(8), np.uint64(16), np.uint64(32)
_M8, _M16, _M32 = (np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0000FFFF0000FFFF),
                   np.uint64(0x00000000FFFFFFFF))


@njit(inline="always")
def _swap(a, b, s, m):  # pragma: no cover - compiled
    """Exchange the high ``s``-bit halves of ``a``'s ``2s``-bit fields with the low halves
    of ``b``'s (one step of a bitwise block transpose)."""
    t = ((a >> s) ^ b) & m
    return a ^ (t << s), b ^ t


@njit(inline="always")
def _swap_pairs(a, b, c, d, e, f, g, h, s, m):  # pragma: no cover - compiled
    """:func:`_swap` on the pairs (a, b), (c, d), (e, f), (g, h)."""
    a, b = _swap(a, b, s, m)
    c, d = _swap(c, d, s, m)
    e, f = _swap(e, f, s, m)
    g, h = _swap(g, h, s, m)
    return a, b, c, d, e, f, g, h


@njit(inline="always")
def _transpose8(x0, x1, x2, x3, x4, x5, x6, x7):  # pragma: no cover - compiled
    """The 8 x 8 byte matrix whose row ``j`` is word ``xj`` (byte ``k`` = bits ``8k..8k+7``),
    transposed: three rounds of swaps of 1-, 2- and 4-byte fields between word pairs
    1, 2 and 4 rows apart."""
    x0, x1, x2, x3, x4, x5, x6, x7 = _swap_pairs(x0, x1, x2, x3, x4, x5, x6, x7, _S8, _M8)
    x0, x2, x1, x3, x4, x6, x5, x7 = _swap_pairs(x0, x2, x1, x3, x4, x6, x5, x7, _S16, _M16)
    x0, x4, x1, x5, x2, x6, x3, x7 = _swap_pairs(x0, x4, x1, x5, x2, x6, x3, x7, _S32, _M32)
    return x0, x1, x2, x3, x4, x5, x6, x7


@njit(cache=True)
def _transpose_bytes(raw, raw64, l0, l1, hi, decim, m_len, xb, xb64):  # pragma: no cover
    """``xb[c - l0, r*m_len + m] = raw[m*decim + r, c]`` for the channels ``l0 .. l1 - 1``
    (``l0`` and ``l1 - l0`` multiples of 8) and every sample below ``hi``: each 8 samples
    of one phase (8 spectra ``decim`` apart) x 8 channels are 8 words of ``raw64``
    transposed in registers into 8 words of ``xb64`` (``xb`` as uint64; ``m_len`` a multiple
    of 8), ~1 operation per byte where a byte-by-byte copy takes several. The last
    ``< 8 * decim`` spectra are copied byte by byte."""
    g0 = l0 // 8
    nb = hi // (8 * decim)
    for b in range(nb):
        for ph in range(decim):
            t = b * 8 * decim + ph
            col = ph * (m_len // 8) + b
            for g in range(g0, l1 // 8):
                y = _transpose8(raw64[t, g], raw64[t + decim, g], raw64[t + 2 * decim, g],
                                raw64[t + 3 * decim, g], raw64[t + 4 * decim, g],
                                raw64[t + 5 * decim, g], raw64[t + 6 * decim, g],
                                raw64[t + 7 * decim, g])
                k = (g - g0) * 8
                xb64[k, col] = y[0]
                xb64[k + 1, col] = y[1]
                xb64[k + 2, col] = y[2]
                xb64[k + 3, col] = y[3]
                xb64[k + 4, col] = y[4]
                xb64[k + 5, col] = y[5]
                xb64[k + 6, col] = y[6]
                xb64[k + 7, col] = y[7]
    for t in range(nb * 8 * decim, hi):
        m = t // decim
        pos = (t - m * decim) * m_len + m
        for kk in range(l1 - l0):
            xb[kk, pos] = raw[t, l0 + kk]


@njit(cache=True)
def _transpose_tiles(raw, l0, l1, need, keep, decim, m_len, tblock, hi, xb):  # pragma: no cover
    """``xb[c - l0, r*m_len + m] = raw[m*decim + r, c]`` for the kept channels ``c`` of
    ``l0 .. l1 - 1`` and their needed samples, in tiles of ``tblock`` spectra (any dtype,
    any channel count)."""
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


@njit(parallel=True, cache=True)
def _sums_time_major(raw, raw64, fast, need, keep, decim, off, offt, nout, cblock, lblock,
                     tblock, width, zproto, parts, ft):  # pragma: no cover - compiled
    """``raw`` (ntime, nchan) any real dtype, time-major; see :func:`candidate_sums`. Tasks
    take loads of ``lblock`` channels in turn: the load's needed samples are transposed into
    a channel-major buffer of the file's dtype, split by phase (a wide load reads whole cache
    lines of the file): 8 x 8 bytes at a time when ``fast`` (8-bit samples, ``raw64`` the
    same memory as (ntime, nchan / 8) uint64, loads of a multiple of 8 channels), else in
    tiles of ``tblock`` spectra. Then each ``cblock`` of it becomes boxcar sums of
    ``zproto``'s dtype, added into the images. ``width``: buffer row length (>= every kept
    ``need``, a multiple of ``8 * decim``; each phase takes ``width // decim`` of it, as
    ``off`` and ``offt`` assume); ``parts`` (ntask, ndm, nout) zeros."""
    nchan = raw.shape[1]
    m_len = width // decim
    ntask = parts.shape[0]
    nload = (nchan + lblock - 1) // lblock
    inv = np.float32(1.0 / decim)
    for task in prange(ntask):
        xb = np.empty((lblock, width), dtype=raw.dtype)
        zb = np.empty((cblock, width), dtype=zproto.dtype)
        kept_load = np.empty(lblock, dtype=np.int64)
        compact = np.arange(cblock)
        part = parts[task]
        for b in range(task, nload, ntask):
            l0 = b * lblock
            l1 = min(nchan, l0 + lblock)
            n_load, hi = _kept(l0, l1, need, keep, kept_load, ft)
            if fast:
                _transpose_bytes(raw, raw64, l0, l1, hi, decim, m_len, xb, xb.view(np.uint64))
            else:
                _transpose_tiles(raw, l0, l1, need, keep, decim, m_len, tblock, hi, xb)
            for k0 in range(0, n_load, cblock):  # blocks of cblock kept channels
                kept = kept_load[k0 : min(n_load, k0 + cblock)]
                _boxcar_phases(xb, l0, zb, kept, kept.shape[0], need, decim, m_len)
                _accumulate(zb, compact, kept, kept.shape[0], off, offt, nout, inv, ft, part)


@njit(parallel=True, cache=True)
def _sums_chan_major(data, need, keep, decim, off, offt, nout, cblock, width, parts,
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
        compact = np.arange(cblock)
        part = parts[task]
        for b in range(task, nblk, ntask):
            c0 = b * cblock
            nk, _ = _kept(c0, min(nchan, c0 + cblock), need, keep, kept, ft)
            if nk == 0:
                continue
            if decim == 1:
                _accumulate(data, kept, kept, nk, off, offt, nout, inv, ft, part)
            else:
                m_len = width // decim
                for k in range(nk):
                    c = kept[k]
                    _split_row(data[c], need[c], decim, m_len, xp[c - c0])
                _boxcar_phases(xp, c0, zb, kept, nk, need, decim, m_len)
                _accumulate(zb, compact, kept, nk, off, offt, nout, inv, ft, part)


def _words(arr: np.ndarray, lblock: int) -> NDArray[np.uint64] | None:
    """A time-major 8-bit window as (ntime, nchan / 8) uint64 words, for the 8 x 8 byte
    transpose; None where it does not apply (other dtypes, a channel count or load that is
    not a multiple of 8, rows that are not contiguous)."""
    if arr.dtype != np.uint8 or arr.shape[1] % 8 or lblock % 8 or not arr.flags.c_contiguous:
        return None
    return arr.view(np.uint64)


def _sum_dtype(dtype: np.dtype, decim: int, cblock: int) -> type:
    """uint16 for the boxcar sums and per-block accumulators of 8-bit samples when a block's
    largest sum, ``255 * decim * cblock``, fits (every default block up to ``decim`` 16);
    float32 otherwise."""
    return np.uint16 if dtype == np.uint8 and 255 * decim * cblock <= 0xFFFF else np.float32


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
    lblock = max(cblock, int(lblock))
    ntask = max(1, min(numba.get_num_threads(), -(-nchan // (lblock if time_major else cblock))))
    parts = np.zeros((ntask, dl.shape[0], nout), dtype=np.float32)
    ft = np.empty((nchan, nout), dtype=np.float32)
    # buffer rows: every kept need, whole 8-sample words per phase
    width = 8 * decim * -(-int(nd[kp].max(initial=1)) // (8 * decim))
    off, offt = np.empty_like(dl), np.empty((1, nchan), dtype=np.int64)
    _offsets(dl, decim, width // decim, off)
    _offsets(fd.reshape(1, nchan), decim, width // decim, offt)
    if time_major:
        raw64 = _words(arr, lblock)
        _sums_time_major(arr, np.zeros((0, 0), np.uint64) if raw64 is None else raw64,
                         raw64 is not None, nd, kp, decim, off, offt[0], nout, cblock, lblock,
                         TBLOCK, width, np.empty(0, dtype=_sum_dtype(arr.dtype, decim, cblock)),
                         parts, ft)
    else:
        x = np.ascontiguousarray(arr, dtype=np.float32)
        _sums_chan_major(x, nd, kp, decim, off, offt[0], nout, cblock, width, parts, ft)
    dmt = parts[0] if ntask == 1 else parts.sum(axis=0, dtype=np.float32)
    if decim > 1:
        dmt *= np.float32(1.0 / decim)
    return dmt, ft
