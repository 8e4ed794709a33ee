"""Channel masks against radio-frequency interference (RFI): IQRM and spectral kurtosis.

Masks are boolean ``(nchan,)`` arrays with ``True`` = bad channel, in the channel order of
the data ``(nchan, ntime)``.

- IQRM (Morello et al. 2022, MNRAS 514, 4181): inter-quartile range mitigation. A
  per-channel statistic (here the standard deviation over time) is compared with itself at
  a set of lags; outliers of each lagged difference (Tukey's rule, IQR-based sigma) are
  "votes" of one channel against another, and a channel is flagged when some channel
  that voted against it is itself less suspicious (cast fewer votes than it received).
- Spectral kurtosis (Nita & Gary 2010): ``SK = (M N d + 1)/(M - 1) (M S2/S1^2 - 1)`` per
  channel over its ``M`` time samples; channels far from the typical SK (in robust sigma
  over channels: 1.4826 x median absolute deviation) are flagged, as ``your`` does.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray

from .dedisperse import as_float32_2d

__all__ = [
    "apply_mask",
    "channel_moments",
    "channel_std",
    "iqrm_lags",
    "iqrm_mask",
    "iqrm_votes",
    "sk_mask",
    "spectral_kurtosis",
]


# --------------------------------------------------------------------------- kernels
@njit(parallel=True, cache=True, fastmath={"reassoc"})
def _channel_moments(data):  # pragma: no cover - compiled
    """Per channel: sum, sum of squares and population std over time, in float64.

    One pass over the data. The std uses sums of ``x - K`` with ``K`` the channel's first
    sample (the shifted-data algorithm), so a large mean does not cancel away precision.
    ``fastmath={"reassoc"}`` only lets LLVM reorder these float64 sums (vectorised), which
    changes them at the 1e-16 level.
    """
    nchan, ntime = data.shape
    s1 = np.empty(nchan)
    s2 = np.empty(nchan)
    std = np.empty(nchan)
    for c in prange(nchan):
        row = data[c]
        k = np.float64(row[0])
        a = 0.0
        b = 0.0
        sa = 0.0
        sb = 0.0
        for i in range(ntime):
            v = np.float64(row[i])
            a += v
            b += v * v
            dv = v - k
            sa += dv
            sb += dv * dv
        s1[c] = a
        s2[c] = b
        std[c] = np.sqrt(max(sb / ntime - (sa / ntime) ** 2, 0.0))
    return s1, s2, std


@njit(cache=True)
def _iqrm(x, lags, threshold):  # pragma: no cover - compiled
    n = x.shape[0]
    nl = lags.shape[0]
    keys = np.empty(n * nl, dtype=np.int64)  # vote j -> i encoded as j * n + i
    m = 0
    diff = np.empty(n)
    for li in range(nl):
        lag = lags[li]
        for i in range(n):
            j = min(max(i - lag, 0), n - 1)
            diff[i] = x[i] - x[j]
        q1 = np.percentile(diff, 25.0)
        med = np.percentile(diff, 50.0)
        q3 = np.percentile(diff, 75.0)
        thr = threshold * (q3 - q1) / 1.349
        for i in range(n):
            if diff[i] - med > thr:
                j = min(max(i - lag, 0), n - 1)
                keys[m] = j * n + i
                m += 1
    mask = np.zeros(n, dtype=np.bool_)
    if m == 0:
        return mask
    votes = np.unique(keys[:m])  # distinct (caster, recipient) pairs
    cast = np.zeros(n, dtype=np.int64)
    received = np.zeros(n, dtype=np.int64)
    for v in votes:
        cast[v // n] += 1
        received[v % n] += 1
    for v in votes:
        j = v // n
        i = v % n
        if cast[j] < received[i]:
            mask[i] = True
    return mask


# --------------------------------------------------------------------------- public API
def channel_moments(
    data: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(S1, S2, std)`` per channel of ``data`` ``(nchan, ntime)``: sum, sum of squares and
    population standard deviation over time, each ``(nchan,)`` float64 (data units)."""
    return _channel_moments(as_float32_2d(data))


def channel_std(data: ArrayLike) -> NDArray[np.float64]:
    """Population standard deviation of each channel over time, ``(nchan,)`` float64."""
    return channel_moments(data)[2]


def iqrm_lags(radius: int) -> NDArray[np.int64]:
    """IQRM lags ``1, -1, 2, -2, 3, -3, 4, -4, 6, -6, 9, ...`` up to ``|lag| <= radius``
    (each positive lag is ``max(int(1.5 * previous), previous + 1)``)."""
    radius = int(radius)
    if radius < 1:
        raise ValueError(f"IQRM radius must be >= 1 channel, got {radius}")
    lags = []
    lag = 1
    while lag <= radius:
        lags += [lag, -lag]
        lag = max(int(1.5 * lag), lag + 1)
    return np.asarray(lags, dtype=np.int64)


def iqrm_votes(stat: ArrayLike, radius: int, threshold: float = 3.0) -> NDArray[np.bool_]:
    """IQRM on a per-channel statistic ``stat`` ``(nchan,)`` where larger = more RFI-like.

    For each lag ``l`` of :func:`iqrm_lags`, the lagged difference
    ``stat[i] - stat[clamp(i - l)]`` is an outlier when it exceeds its median by more than
    ``threshold`` Gaussian sigmas, sigma = IQR / 1.349; each outlier is a vote of channel
    ``clamp(i - l)`` against channel ``i``. Channel ``i`` is flagged if a channel that voted
    against it cast strictly fewer distinct votes than ``i`` received. Returns ``(nchan,)``
    bool, True = bad. ``stat`` must be finite.
    """
    x = np.ascontiguousarray(stat, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"IQRM statistic must be a non-empty 1-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("IQRM statistic contains NaN or infinite values")
    threshold = float(threshold)
    if not threshold > 0:
        raise ValueError(f"IQRM threshold must be > 0 sigma, got {threshold}")
    return _iqrm(x, iqrm_lags(radius), threshold)


def iqrm_mask(
    data: ArrayLike, radius: int | None = None, threshold: float = 3.0
) -> NDArray[np.bool_]:
    """IQRM channel mask of ``data`` ``(nchan, ntime)`` using each channel's std over time.

    ``radius`` in channels defaults to 10% of ``nchan`` (at least 1), as Morello et al.
    recommend; ``threshold`` in Gaussian sigmas. Returns ``(nchan,)`` bool, True = bad.
    """
    arr = as_float32_2d(data)
    nchan = arr.shape[0]
    if radius is None:
        radius = max(1, nchan // 10)
    return iqrm_votes(channel_std(arr), radius, threshold)


def spectral_kurtosis(data: ArrayLike, n_acc: float = 1.0, d: float = 1.0) -> NDArray[np.float64]:
    """Generalised spectral-kurtosis estimator of each channel over time, ``(nchan,)``.

    ``SK = (M N d + 1) / (M - 1) * (M S2 / S1^2 - 1)`` with ``M = ntime``, ``N = n_acc`` (raw
    spectra accumulated per sample) and shape factor ``d``; dimensionless, 1 for Gaussian
    noise of power statistics with matching ``N d``. NaN where a channel sums to zero.
    Needs ``ntime >= 2``.
    """
    arr = as_float32_2d(data)
    m = arr.shape[1]
    if m < 2:
        raise ValueError(f"spectral kurtosis needs at least 2 time samples, got {m}")
    s1, s2, _ = _channel_moments(arr)
    with np.errstate(divide="ignore", invalid="ignore"):
        sk = (m * n_acc * d + 1.0) / (m - 1.0) * (m * s2 / s1**2 - 1.0)
    sk[s1 == 0] = np.nan
    return sk


def sk_mask(
    data: ArrayLike, sigma: float = 5.0, n_acc: float = 1.0, d: float = 1.0
) -> NDArray[np.bool_]:
    """Spectral-kurtosis channel mask of ``data`` ``(nchan, ntime)``, True = bad.

    A channel is bad when its SK (:func:`spectral_kurtosis`) lies more than ``sigma``
    robust standard deviations (1.4826 x median absolute deviation of SK over the channels)
    from the median SK, or when its SK is undefined (a channel summing to zero, e.g. dead).
    """
    sigma = float(sigma)
    if not sigma > 0:
        raise ValueError(f"SK threshold must be > 0 sigma, got {sigma}")
    sk = spectral_kurtosis(data, n_acc, d)
    ok = np.isfinite(sk)
    mask = ~ok
    if ok.any():
        good = sk[ok]
        med = np.median(good)
        rstd = 1.4826 * np.median(np.abs(good - med))
        mask[ok] = np.abs(good - med) > sigma * rstd
    return mask


def apply_mask(
    data: ArrayLike, mask: ArrayLike, fill: Literal["zero", "median"] = "zero"
) -> NDArray[np.float32]:
    """Copy of ``data`` ``(nchan, ntime)`` as float32 with masked channels replaced.

    ``fill="zero"`` sets masked channels to 0 (what ``your`` does with its kill mask);
    ``fill="median"`` sets each masked channel to its own median over time, a flat row at
    the channel's level, so it adds no structure yet leaves no hole in the bandpass (which
    a later per-channel baseline removal would otherwise turn into a stripe).
    ``mask`` ``(nchan,)`` bool, True = bad.
    """
    out = np.array(as_float32_2d(data), dtype=np.float32, copy=True)
    m = np.asarray(mask)
    if m.shape != (out.shape[0],):
        raise ValueError(f"mask must have shape ({out.shape[0]},), got {m.shape}")
    if m.dtype != np.bool_:
        raise ValueError(f"mask must be boolean (True = bad channel), got dtype {m.dtype}")
    if not m.any():
        return out
    if fill == "zero":
        out[m] = 0.0
    elif fill == "median":
        out[m] = np.median(out[m], axis=1)[:, None]
    else:
        raise ValueError(f"fill must be 'zero' or 'median', got {fill!r}")
    return out
