"""Plain-numpy twins of the Numba kernels: the simplest obviously-correct code.

Tests compare each kernel against its twin here, and benchmarks/ times the kernel against
the same twin on the same input. Written for clarity, not speed: explicit loops over
channels / DMs, float64 accumulation. Shapes follow the kernels: data ``(nchan, ntime)``.
(Other engineers append references for their kernels at the end of this file.)
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- dedispersion


def dedisperse_ref(data: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """``out[c, i] = data[c, i + delays[c]]`` for ``i < ntime - max(delays)``; (nchan, nout)."""
    data = np.asarray(data, dtype=np.float64)
    delays = np.asarray(delays, dtype=np.int64)
    nout = data.shape[1] - int(delays.max())
    out = np.empty((data.shape[0], nout))
    for c in range(data.shape[0]):
        out[c] = data[c, delays[c] : delays[c] + nout]
    return out


def dedisperse_timeseries_ref(data: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """Channel sum of :func:`dedisperse_ref`; (nout,)."""
    return dedisperse_ref(data, delays).sum(axis=0)


def dedisperse_many_ref(data: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """One dedispersed time series per DM row of ``delays`` (ndm, nchan); (ndm, nout).

    ``nout = ntime - delays.max()`` over all DMs.
    """
    data = np.asarray(data, dtype=np.float64)
    delays = np.asarray(delays, dtype=np.int64)
    nout = data.shape[1] - int(delays.max())
    out = np.zeros((delays.shape[0], nout))
    for d in range(delays.shape[0]):
        for c in range(data.shape[0]):
            out[d] += data[c, delays[d, c] : delays[d, c] + nout]
    return out


def dedisperse_many_ref_f32(data: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """Same as :func:`dedisperse_many_ref` but accumulating in float32 (the benchmark baseline:
    a straightforward numpy loop with the same arithmetic as the kernel)."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    delays = np.asarray(delays, dtype=np.int64)
    nout = data.shape[1] - int(delays.max())
    out = np.zeros((delays.shape[0], nout), dtype=np.float32)
    for d in range(delays.shape[0]):
        row = out[d]
        for c in range(data.shape[0]):
            row += data[c, delays[d, c] : delays[d, c] + nout]
    return out


# --------------------------------------------------------------------------- DM-time bowtie


def dm_time_ref(
    data: np.ndarray, delays: np.ndarray, start: int, nout: int, decim: int
) -> np.ndarray:
    """DM-time image of the kept window; (ndm, nout).

    ``out[d, j] = mean_{k<decim} sum_c data[c, start + j*decim + k + delays[d, c]]``.
    """
    data = np.asarray(data, dtype=np.float64)
    delays = np.asarray(delays, dtype=np.int64)
    ndm, nchan = delays.shape
    length = nout * decim
    out = np.zeros((ndm, nout))
    for d in range(ndm):
        ts = np.zeros(length)
        for c in range(nchan):
            s = start + delays[d, c]
            ts += data[c, s : s + length]
        out[d] = ts.reshape(nout, decim).mean(axis=1)
    return out


# --------------------------------------------------------------------------- spectra helpers


def decimate_time_ref(data: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each run of ``factor`` samples, remainder dropped; (nchan, ntime//factor)."""
    data = np.asarray(data, dtype=np.float64)
    n = data.shape[1] // factor
    return data[:, : n * factor].reshape(data.shape[0], n, factor).mean(axis=2)


def decimate_freq_ref(data: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each run of ``factor`` channels, remainder dropped; (nchan//factor, ntime)."""
    data = np.asarray(data, dtype=np.float64)
    n = data.shape[0] // factor
    return data[: n * factor].reshape(n, factor, data.shape[1]).mean(axis=1)


def resize_freq_area_ref(data: np.ndarray, nout: int) -> np.ndarray:
    """Area-weighted resize of the channel axis to ``nout`` channels; (nout, ntime).

    Input channel ``c`` covers ``[c, c+1)``; output channel ``k`` covers
    ``[k*s, (k+1)*s)`` with ``s = nchan / nout``; each output is the overlap-weighted mean.
    """
    data = np.asarray(data, dtype=np.float64)
    nchan = data.shape[0]
    s = nchan / nout
    out = np.zeros((nout, data.shape[1]))
    for k in range(nout):
        lo, hi = k * s, (k + 1) * s
        for c in range(nchan):
            overlap = min(hi, c + 1) - max(lo, c)
            if overlap > 0:
                out[k] += overlap * data[c]
        out[k] /= s
    return out


def resize_freq_linear_ref(data: np.ndarray, nout: int) -> np.ndarray:
    """Linear interpolation of the channel axis, pixel-centre convention, edges clamped.

    Output channel ``k`` samples input position ``x = (k + 0.5) * nchan / nout - 0.5``
    (clamped to ``[0, nchan - 1]``), like ``skimage.transform.resize(order=1, mode="edge",
    anti_aliasing=False)``; (nout, ntime).
    """
    data = np.asarray(data, dtype=np.float64)
    nchan = data.shape[0]
    out = np.zeros((nout, data.shape[1]))
    for k in range(nout):
        x = min(max((k + 0.5) * nchan / nout - 0.5, 0.0), nchan - 1.0)
        i0 = int(np.floor(x))
        i1 = min(i0 + 1, nchan - 1)
        w = x - i0
        out[k] = (1 - w) * data[i0] + w * data[i1]
    return out


def normalise_ref(img: np.ndarray) -> np.ndarray:
    """FETCH's normalise: subtract the median, divide by the std (zeros when std is 0)."""
    img = np.asarray(img, dtype=np.float64)
    centred = img - np.median(img)
    std = img.std()
    if std == 0:
        return np.zeros_like(img)
    return centred / std


def zero_dm_ref(data: np.ndarray) -> np.ndarray:
    """Subtract from every channel the mean over channels at each time sample; (nchan, ntime)."""
    data = np.asarray(data, dtype=np.float64)
    return data - data.mean(axis=0, keepdims=True)


# --------------------------------------------------------------------------- RFI masks


def channel_std_ref(data: np.ndarray) -> np.ndarray:
    """Population standard deviation of each channel over time; (nchan,)."""
    return np.asarray(data, dtype=np.float64).std(axis=1)


def iqrm_ref(x: np.ndarray, radius: int, threshold: float) -> np.ndarray:
    """IQRM (Morello et al. 2022) on a per-channel statistic ``x`` (nchan,); True = bad.

    For each lag ``l`` in 1, -1, 2, -2, 3, -3, 4, -4, 6, -6, ... (``|l| <= radius``, growing
    by a factor 1.5), the lagged difference ``x[i] - x[i - l]`` (indices clamped to the
    ends) is compared with Tukey's rule: ``diff - median > threshold * IQR / 1.349``. An
    outlier at ``i`` is a vote cast by channel ``j = clamp(i - l)`` against channel ``i``.
    Channel ``i`` is flagged if some ``j`` that voted against it cast strictly fewer votes
    (distinct recipients) than ``i`` received (distinct voters).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    lags = []
    lag = 1
    while lag <= radius:
        lags += [lag, -lag]
        lag = max(int(1.5 * lag), lag + 1)
    cast: dict[int, set[int]] = {}
    received: dict[int, set[int]] = {}
    for lag in lags:
        idx = np.clip(np.arange(n) - lag, 0, n - 1)
        diff = x - x[idx]
        q1, med, q3 = np.percentile(diff, [25, 50, 75])
        bad = (diff - med) > threshold * (q3 - q1) / 1.349
        for i in np.flatnonzero(bad):
            j = int(idx[i])
            cast.setdefault(j, set()).add(int(i))
            received.setdefault(int(i), set()).add(j)
    mask = np.zeros(n, dtype=bool)
    for i, voters in received.items():
        if any(len(cast[j]) < len(voters) for j in voters):
            mask[i] = True
    return mask


def spectral_kurtosis_ref(data: np.ndarray, n_acc: float = 1.0, d: float = 1.0) -> np.ndarray:
    """Generalised spectral kurtosis estimator per channel over time (Nita & Gary 2010); (nchan,).

    ``SK = (M N d + 1) / (M - 1) * (M S2 / S1^2 - 1)`` with ``S1 = sum x``, ``S2 = sum x^2``
    over the ``M`` samples of a channel. NaN where ``S1 == 0``.
    """
    data = np.asarray(data, dtype=np.float64)
    m = data.shape[1]
    out = np.full(data.shape[0], np.nan)
    for c in range(data.shape[0]):
        s1 = data[c].sum()
        s2 = (data[c] ** 2).sum()
        if s1 != 0:
            out[c] = (m * n_acc * d + 1) / (m - 1) * (m * s2 / s1**2 - 1)
    return out


def sk_mask_ref(data: np.ndarray, sigma: float, n_acc: float = 1.0, d: float = 1.0) -> np.ndarray:
    """Flag channels whose SK is more than ``sigma`` robust std (1.4826 MAD over channels)
    from the median SK, or whose SK is undefined; (nchan,) True = bad."""
    sk = spectral_kurtosis_ref(data, n_acc, d)
    ok = np.isfinite(sk)
    if not ok.any():
        return np.ones(sk.size, dtype=bool)
    med = np.median(sk[ok])
    rstd = 1.4826 * np.median(np.abs(sk[ok] - med))
    mask = ~ok
    mask[ok] = np.abs(sk[ok] - med) > sigma * rstd
    return mask


def apply_mask_ref(data: np.ndarray, mask: np.ndarray, fill: str = "zero") -> np.ndarray:
    """Replace the rows of masked channels by 0 (``"zero"``) or by each channel's own median
    over time (``"median"``); (nchan, ntime)."""
    out = np.array(data, dtype=np.float64)
    for c in np.flatnonzero(mask):
        out[c] = 0.0 if fill == "zero" else np.median(out[c])
    return out


# --------------------------------------------------------------------------- FDMT / boxcar (search)


def brute_force_sweeps(data: np.ndarray, freqs: np.ndarray, sweeps) -> np.ndarray:
    """Dedisperse ``data`` (nchan, ntime) at each total sweep in ``sweeps`` (samples between
    the highest and lowest channel) with per-channel delays ``rint(sweep * g_c)``,
    ``g_c = (f_c^-2 - f_top^-2) / (f_bot^-2 - f_top^-2)``; (nsweep, ntime - max(sweeps))."""
    freqs = np.asarray(freqs, np.float64)
    g = (freqs**-2 - freqs.max() ** -2) / (freqs.min() ** -2 - freqs.max() ** -2)
    delays = np.stack([np.rint(d * g).astype(np.int64) for d in sweeps])
    return dedisperse_many_ref(data, delays)


def robust_normalise_ref(x: np.ndarray, nsub: int = 2048) -> np.ndarray:
    """``(x - median) / (1.4826 MAD)`` per row, statistics over every ``max(1, ntime // nsub)``-th
    sample; rows without spread become 0; (ndm, ntime) float32."""
    step = max(1, x.shape[1] // nsub)
    sub = x[:, ::step].astype(np.float64)
    med = np.median(sub, axis=1, keepdims=True)
    sig = 1.482602218505602 * np.median(np.abs(sub - med), axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sig > 0, (x - med) / sig, 0.0)
    return out.astype(np.float32)


def boxcar_snr_ref(x: np.ndarray, widths, nout: int) -> tuple[np.ndarray, np.ndarray]:
    """Best over ``widths`` of ``sum(x[:, t : t + w]) / sqrt(w)`` for ``t < nout`` and the index
    of the best width; ((ndm, nout), (ndm, nout))."""
    x = np.asarray(x, np.float64)
    snrs = np.stack([
        np.stack([x[:, t : t + w].sum(1) for t in range(nout)], axis=1) / np.sqrt(w)
        for w in widths
    ])  # (nwidth, ndm, nout)
    return snrs.max(0), snrs.argmax(0)


def boxcar_snr_robust_ref(x: np.ndarray, widths, nout: int, nsub: int) -> np.ndarray:
    """Best over ``widths`` of each boxcar-filtered row standardised by its own median and
    1.4826 MAD (over every ``max(1, n // nsub)``-th position); (ndm, nout)."""
    x = np.asarray(x, np.float64)
    per = []
    for w in widths:
        box = np.stack([x[:, t : t + w].sum(1) for t in range(x.shape[1] - w + 1)], 1)
        step = max(1, box.shape[1] // nsub)
        sub = box[:, ::step]
        med = np.median(sub, 1, keepdims=True)
        sig = 1.482602218505602 * np.median(np.abs(sub - med), 1, keepdims=True)
        per.append(((box - med) / sig)[:, :nout])
    return np.stack(per).max(0)


def find_peaks_ref(snr: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first argmax of each maximal run of samples ``>= thr``; (rows, cols)."""
    rows, cols = [], []
    for r in range(snr.shape[0]):
        above = np.concatenate([[False], snr[r] >= thr, [False]])
        edges = np.flatnonzero(np.diff(above.astype(int)))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            rows.append(r)
            cols.append(a + int(np.argmax(snr[r, a:b])))
    return np.array(rows, np.int64), np.array(cols, np.int64)


# --------------------------------------------------------------------------- CHIME chunks


def chunk_intensity_ref(data: np.ndarray, scales: np.ndarray, offsets: np.ndarray,
                        rfi: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A chunk's ``(intensity float32, good bool)``, each ``(nfreq, nt)``: ``offset + scale x
    byte`` per coarse channel and packet (float32, as ch_frb_io), good unless the byte is
    0/255 or the RFI mask row of the channel says bad."""
    nfreq, nt = data.shape
    nup, ntp = nfreq // scales.shape[0], nt // scales.shape[1]
    x = np.empty((nfreq, nt), dtype=np.float32)
    good = np.empty((nfreq, nt), dtype=bool)
    for c in range(nfreq):
        for t in range(nt):
            v = data[c, t]
            x[c, t] = np.float32(v) * scales[c // nup, t // ntp] + offsets[c // nup, t // ntp]
            good[c, t] = v not in (0, 255) and (rfi is None
                                                 or rfi[c // (nfreq // rfi.shape[0]), t])
    return x, good


def decode_ragged_ref(data: np.ndarray, scales: np.ndarray, offsets: np.ndarray,
                      rfi: np.ndarray | None, shift: int, count: np.ndarray,
                      out: np.ndarray, nbad: np.ndarray, sums: np.ndarray) -> None:
    """``out[c, shift + t]`` = chunk sample ``t`` of row ``c`` for ``0 <= shift + t <
    count[c]`` (NaN when masked, counted in ``nbad``; the good ones' float64 sum added to
    ``sums``)."""
    x, good = chunk_intensity_ref(data, scales, offsets, rfi)
    for c in range(data.shape[0]):
        for t in range(data.shape[1]):
            if 0 <= shift + t < count[c]:
                out[c, shift + t] = x[c, t] if good[c, t] else np.nan
                nbad[c] += not good[c, t]
                sums[c] += float(x[c, t]) if good[c, t] else 0.0


def ragged_fill_ref(window: np.ndarray, good: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``ChunkReader.read_ragged``'s rule on a decoded ``window`` ``(nchan, ncol)`` with its
    ``good`` mask: row ``c``'s first ``count[c]`` samples, masked ones replaced by the mean
    of that row's good ones among them (all rows' for a row with none; 0 if none); the rest
    NaN."""
    nchan, ncol = window.shape
    need = np.arange(ncol)[None, :] < np.asarray(count)[:, None]
    ok = good & need
    x = np.where(ok, window, 0).astype(np.float64)
    n = ok.sum(axis=1)
    overall = x.sum() / n.sum() if n.sum() else 0.0
    level = np.where(n > 0, x.sum(axis=1) / np.maximum(n, 1), overall).astype(np.float32)
    out = np.where(ok, window, level[:, None]).astype(np.float32)
    out[~need] = np.nan
    return out


# --------------------------------------------------------------------------- fused candidate sums


def candidate_sums_ref(data: np.ndarray, dmt_delays: np.ndarray, ft_delays: np.ndarray,
                       nout: int, decim: int, keep: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(dmt (ndm, nout), ft (nchan, nout))`` of a channel-major window (float64): the
    masked channels (``keep`` False) zeroed, then ``dmt = dm_time_ref(x, dmt_delays, 0, nout,
    decim)`` and ``ft[c] = decimate_time_ref(x[c, ft_delays[c] : + nout*decim], decim)``."""
    x = np.array(data, dtype=np.float64)
    if keep is not None:
        x[~np.asarray(keep, dtype=bool)] = 0.0
    dmt = dm_time_ref(x, dmt_delays, 0, nout, decim)
    ft = np.zeros((x.shape[0], nout))
    for c in range(x.shape[0]):
        s = int(ft_delays[c])
        ft[c] = x[c, s : s + nout * decim].reshape(nout, decim).mean(axis=1)
    return dmt, ft
