"""Decoding CHIME msgpack chunks straight into a candidate window, only where it is needed.

A chunk holds 8-bit ``data`` ``(nfreq, nt)`` (row 0 = highest frequency) with one float32
``scale`` and ``offset`` per coarse channel (``nupfreq`` fine channels) and packet
(``nt_per_packet`` samples)::

    intensity[c, t] = offsets[c // nupfreq, t // nt_per_packet]
                      + scales[c // nupfreq, t // nt_per_packet] * data[c, t]

computed in float32 exactly as ``frbtriage.io.chime_msgpack.decode_columns`` does
(``float32(data) * scale + offset``). A sample is *masked* when its byte is 0 or 255 or the
chunk's RFI mask row ``c // (nfreq // nrfifreq)`` says bad at ``t``.

``prepare`` needs, per channel ``c``, only the first ``count[c]`` samples of its window (the
dispersion sweep): :func:`decode_ragged` writes just those from one chunk into the caller's
channel-major ``(nchan, ncol)`` float32 buffer, marking masked samples NaN and adding up the
good ones it wrote per channel (float64), so that the fill level of masked samples (the
channel's mean over the good samples it reads) costs no second pass over the data;
:func:`fill_nan` then replaces the marks by it. The reader
(``frbtriage.io.chime_reader.ChunkReader.read_ragged``) chains them chunk by chunk, so memory
never exceeds the window the caller asked for.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

__all__ = ["decode_ragged", "fill_nan"]


@njit(parallel=True, cache=True)
def _decode_ragged(data, scales, offsets, rfi, shift, count, out, nbad, sums):  # pragma: no cover
    """Rows in parallel; chunk sample ``t`` of row ``c`` goes to ``out[c, shift + t]`` when
    ``0 <= shift + t < count[c]``; masked ones become NaN and are counted in ``nbad[c]``,
    good ones are added (in order, float64) to ``sums[c]``. Packet by packet, so that no
    division is done per sample (that was 10x slower)."""
    nfreq, nt = data.shape
    nup = nfreq // scales.shape[0]
    ntp = nt // scales.shape[1]
    per = nfreq // rfi.shape[0]
    for c in prange(nfreq):
        lo = max(0, -shift)
        hi = min(nt, count[c] - shift)
        if hi <= lo:
            continue
        row = data[c]
        sc = scales[c // nup]
        of = offsets[c // nup]
        good = rfi[c // per]
        dst = out[c]
        bad = 0
        total = 0.0
        for p in range(lo // ntp, (hi - 1) // ntp + 1):
            s = sc[p]
            o = of[p]
            for t in range(max(lo, p * ntp), min(hi, p * ntp + ntp)):
                v = row[t]
                if v == 0 or v == 255 or not good[t]:
                    dst[shift + t] = np.nan
                    bad += 1
                else:
                    x = np.float32(v) * s + o
                    dst[shift + t] = x
                    total += x
        nbad[c] += bad
        sums[c] += total


@njit(parallel=True, cache=True)
def _fill_nan(out, count, rows, level):  # pragma: no cover - compiled
    """``out[rows[i], t] = level[i]`` where it is NaN, for ``t < count[rows[i]]``."""
    for i in prange(rows.shape[0]):
        c = rows[i]
        dst = out[c]
        v = level[i]
        for t in range(count[c]):
            if np.isnan(dst[t]):
                dst[t] = v


def _check_chunk(data: NDArray[np.uint8], scales: NDArray[np.float32],
                 offsets: NDArray[np.float32], rfi: NDArray[np.bool_] | None
                 ) -> NDArray[np.bool_]:
    """Raise ``ValueError`` unless the arrays form one chunk; the RFI mask to pass on
    (one all-good row for none)."""
    if data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"data must be 2-d uint8, got {data.dtype} {data.shape}")
    nfreq, nt = data.shape
    for name, a in (("scales", scales), ("offsets", offsets)):
        if a.dtype != np.float32 or a.ndim != 2:
            raise ValueError(f"{name} must be 2-d float32, got {a.dtype} {a.shape}")
    if scales.shape != offsets.shape or not (
            scales.shape[0] and scales.shape[1] and nfreq % scales.shape[0] == 0
            and nt % scales.shape[1] == 0):
        raise ValueError(f"scales {scales.shape} / offsets {offsets.shape} must be equal "
                         f"and divide data {data.shape}")
    if rfi is None:
        return np.ones((1, nt), dtype=np.bool_)
    if rfi.dtype != np.bool_ or rfi.ndim != 2 or rfi.shape[1] != nt or not rfi.shape[0] \
            or nfreq % rfi.shape[0]:
        raise ValueError(f"rfi mask must be bool (nrfifreq dividing {nfreq}, {nt}), got "
                         f"{rfi.dtype} {rfi.shape}")
    return rfi


def decode_ragged(data: NDArray[np.uint8], scales: NDArray[np.float32],
                  offsets: NDArray[np.float32], rfi: NDArray[np.bool_] | None, shift: int,
                  count: NDArray[np.int64], out: NDArray[np.float32],
                  nbad: NDArray[np.int64], sums: NDArray[np.float64]) -> None:
    """Decode the samples of one chunk that each channel needs, into ``out`` in place.

    ``data`` ``(nfreq, nt)`` uint8 chunk bytes (0 and 255 are masked); ``scales``,
    ``offsets`` ``(nfreq // nupfreq, nt // nt_per_packet)`` float32; ``rfi``
    ``(nrfifreq, nt)`` bool, True = good (``nrfifreq`` divides ``nfreq``), or None; ``shift``
    the output column of chunk sample 0 (negative when the window starts inside the chunk,
    beyond ``out``'s width when it ends before); ``count`` ``(nfreq,)`` int64, the samples
    each output row needs (``<= out.shape[1]``). ``out`` ``(nfreq, ncol)`` float32 with
    C-contiguous rows: only the needed cells the chunk covers are written,
    ``out[c, shift + t] = offsets[c // nupfreq, t // nt_per_packet] + scales[...] *
    data[c, t]`` for ``0 <= shift + t < count[c]``, NaN when masked. ``nbad`` ``(nfreq,)``
    int64 is incremented by the masked samples written per row, ``sums`` ``(nfreq,)``
    float64 by the sum of the good samples written per row (each row's in sample order,
    from 0.0 for this chunk, then added).
    """
    rfi = _check_chunk(data, scales, offsets, rfi)
    count = np.asarray(count, dtype=np.int64)
    nfreq = data.shape[0]
    if out.dtype != np.float32 or out.ndim != 2 or out.shape[0] != nfreq \
            or out.strides[1] != 4:
        raise ValueError(f"out must be ({nfreq}, ncol) float32 with contiguous rows, got "
                         f"{out.dtype} {out.shape}")
    if count.shape != (nfreq,) or nbad.shape != (nfreq,) or nbad.dtype != np.int64 \
            or sums.shape != (nfreq,) or sums.dtype != np.float64:
        raise ValueError(f"count, nbad and sums must be ({nfreq},) (nbad int64, sums "
                         "float64)")
    if count.size and (count.min() < 0 or count.max() > out.shape[1]):
        raise ValueError(f"count must lie in 0..{out.shape[1]} (out's width)")
    _decode_ragged(data, scales, offsets, rfi, int(shift), count, out, nbad, sums)


def fill_nan(out: NDArray[np.float32], count: NDArray[np.int64], rows: NDArray[np.int64],
             level: NDArray[np.float32]) -> None:
    """In place: ``out[rows[i], t] = level[i]`` wherever it is NaN, for ``t < count[rows[i]]``
    (``out`` ``(nchan, ncol)`` float32, ``count`` ``(nchan,)``, ``rows``/``level``
    ``(nrows,)``)."""
    rows = np.asarray(rows, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    level = np.asarray(level, dtype=np.float32)
    if out.dtype != np.float32 or out.ndim != 2 or count.shape != (out.shape[0],) \
            or level.shape != rows.shape:
        raise ValueError("out (nchan, ncol) float32, count (nchan,), level like rows")
    if rows.size and (rows.min() < 0 or rows.max() >= out.shape[0]
                      or count[rows].max() > out.shape[1]):
        raise ValueError("rows or their counts outside out")
    _fill_nan(out, count, rows, level)
