"""Pulse profiles integrated over samples, injection into arrays, and boxcar S/N.

Every transient the simulator injects (bursts and transient RFI alike) is a
:class:`Pulse`: in each channel ``c`` a profile centred at ``t_centre[c]`` seconds
(from the start of the file) carrying ``fluence[c]`` (units of one channel's radiometer
noise sigma times one sample, so that a fluence of ``F`` spread over ``w`` samples is
``F / w`` sigma per sample).

Profile model (one channel)
---------------------------
The emitted pulse is a Gaussian of standard deviation ``sigma_s`` (FWHM = 2.3548 sigma).
It is convolved with

* a one-sided exponential ``exp(-t/tau)/tau`` (multipath scattering, ``tau = tau[c]``;
  the caller scales it as ``f^-4``), giving the exponentially modified Gaussian (EMG);
* a uniform box of width ``smear[c]`` seconds (intra-channel dispersion smearing,
  :func:`frbtriage.physics.smearing_seconds`; the sweep across a channel is close to
  linear, so a box is the right kernel);
* the sample itself: the value of sample ``k`` is the fluence arriving in
  ``[k tsamp, (k+1) tsamp)``, i.e. the difference of the profile's cumulative
  distribution at the two sample edges. This places pulses with sub-sample accuracy.

All three steps are done analytically. With ``x = t/sigma`` the EMG's CDF is::

    F(t) = Phi(x) - exp(-t/tau + sigma^2/(2 tau^2)) Phi(x - sigma/tau)

and its antiderivative (used for the smearing box) is::

    G(t) = t Phi(x) + sigma phi(x) - tau Phi(x)
           + tau exp(-t/tau + sigma^2/(2 tau^2)) Phi(x - sigma/tau)

so the box-smeared CDF is ``(G(t + s/2) - G(t - s/2)) / s``. The products of a huge
exponential and a tiny ``Phi`` are evaluated as ``exp(... + log_ndtr(...))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_ndtr, ndtr

#: Geometric grid of boxcar widths (samples) for the "matched" S/N: adjacent widths
#: differ by < 8 %, so the best of them is within ~0.2 % of the best integer width.
MATCHED_WIDTHS = np.unique(np.rint(np.geomspace(1, 8192, 130)).astype(np.int64))
#: The power-of-two boxcars a real-time search (Heimdall, CHIME L1) uses.
SEARCH_WIDTHS = 2 ** np.arange(0, 13, dtype=np.int64)

_SQRT_2PI = np.sqrt(2.0 * np.pi)
#: Fraction of the scattering tail that is dropped when truncating a profile (e^-11.5).
_TAIL_EFOLDS = 11.5
_GAUSS_NSIGMA = 6.0


@dataclass
class Pulse:
    """A transient seen in every channel where ``fluence > 0``.

    All arrays have shape ``(nchan,)`` in file channel order.

    t_centre: centre of the (unscattered, unsmeared) Gaussian in each channel, seconds
        from the file start.
    sigma_s: standard deviation of the emitted Gaussian, seconds (scalar).
    tau: scattering time per channel, seconds (0 = none).
    smear: width of the smearing box per channel, seconds (0 = none).
    fluence: total injected fluence per channel, in units of noise-sigma x samples.
    """

    t_centre: NDArray[np.float64]
    sigma_s: float
    tau: NDArray[np.float64]
    smear: NDArray[np.float64]
    fluence: NDArray[np.float64]

    def span_samples(self, tsamp: float) -> tuple[int, int]:
        """First and one-past-last sample touched by the pulse (in any channel)."""
        lo, hi = _channel_windows(self, tsamp)
        on = self.fluence > 0
        if not on.any():
            return 0, 0
        return int(lo[on].min()), int(hi[on].max())


@dataclass
class PulseBlock:
    """A pulse rendered on the sample grid.

    chans: channel indices, shape ``(nc,)``; k0: first sample of each row, shape ``(nc,)``;
    data: injected signal in noise-sigma units, shape ``(nc, L)`` float32 (row ``i`` covers
    samples ``k0[i] .. k0[i] + L - 1`` of channel ``chans[i]``).
    """

    chans: NDArray[np.int64]
    k0: NDArray[np.int64]
    data: NDArray[np.float32]

    @property
    def start(self) -> int:
        """First sample touched."""
        return int(self.k0.min()) if self.k0.size else 0

    @property
    def stop(self) -> int:
        """One past the last sample touched."""
        return int(self.k0.max()) + self.data.shape[1] if self.k0.size else 0


def _log_term(t: NDArray, sigma: float, tau: NDArray) -> NDArray:
    """``exp(-t/tau + sigma^2/(2 tau^2)) * Phi(t/sigma - sigma/tau)`` computed stably."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        arg = -t / tau + 0.5 * (sigma / tau) ** 2 + log_ndtr(t / sigma - sigma / tau)
        out = np.exp(arg)
    return np.where(tau > 0, out, 0.0)


def emg_cdf(t: NDArray, sigma: float, tau: NDArray) -> NDArray:
    """CDF at ``t`` s of a Gaussian (std ``sigma`` s) convolved with an exponential (``tau`` s)."""
    t = np.asarray(t, dtype=np.float64)
    return ndtr(t / sigma) - _log_term(t, sigma, tau)


def emg_cdf_integral(t: NDArray, sigma: float, tau: NDArray) -> NDArray:
    """Antiderivative of :func:`emg_cdf` in ``t`` (zero at ``-inf``), seconds."""
    t = np.asarray(t, dtype=np.float64)
    x = t / sigma
    phi_x = ndtr(x)
    pdf_x = np.exp(-0.5 * x * x) / _SQRT_2PI
    return t * phi_x + sigma * pdf_x - tau * phi_x + tau * _log_term(t, sigma, tau)


def smeared_cdf(t: NDArray, sigma: float, tau: NDArray, smear: NDArray) -> NDArray:
    """CDF of the EMG convolved with a centred box of width ``smear`` seconds."""
    t = np.asarray(t, dtype=np.float64)
    smear = np.broadcast_to(np.asarray(smear, dtype=np.float64), t.shape)
    tau = np.broadcast_to(np.asarray(tau, dtype=np.float64), t.shape)
    wide = smear > 1e-3 * sigma
    out = emg_cdf(t, sigma, tau)
    if wide.any():
        tw, sw, uw = t[wide], smear[wide], tau[wide]
        out[wide] = (emg_cdf_integral(tw + sw / 2, sigma, uw)
                     - emg_cdf_integral(tw - sw / 2, sigma, uw)) / sw
    return out


def _channel_windows(p: Pulse, tsamp: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per-channel first / one-past-last sample where the profile is non-negligible."""
    lo_t = p.t_centre - p.smear / 2 - _GAUSS_NSIGMA * p.sigma_s
    hi_t = p.t_centre + p.smear / 2 + _GAUSS_NSIGMA * p.sigma_s + _TAIL_EFOLDS * p.tau
    return np.floor(lo_t / tsamp).astype(np.int64), np.floor(hi_t / tsamp).astype(np.int64) + 1


def render_pulse(p: Pulse, tsamp: float) -> PulseBlock:
    """Integrate ``p`` over the samples of ``tsamp`` seconds in every channel it touches.

    The rows of the returned block sum to ``p.fluence`` (minus the < 1e-5 truncated tail).
    """
    on = np.flatnonzero(p.fluence > 0)
    if on.size == 0:
        return PulseBlock(on.astype(np.int64), on.astype(np.int64), np.zeros((0, 1), np.float32))
    lo, hi = _channel_windows(p, tsamp)
    lo, hi = lo[on], hi[on]
    length = int((hi - lo).max())
    edges = (lo[:, None] + np.arange(length + 1)[None, :]) * tsamp - p.t_centre[on, None]
    cdf = smeared_cdf(edges, max(p.sigma_s, 1e-7), p.tau[on, None], p.smear[on, None])
    prof = np.diff(cdf, axis=1)
    np.clip(prof, 0.0, None, out=prof)
    data = (prof * p.fluence[on, None]).astype(np.float32)
    return PulseBlock(on.astype(np.int64), lo, data)


def merge_blocks(blocks: list[PulseBlock]) -> PulseBlock:
    """One block holding the sum of ``blocks`` (e.g. the sub-bursts of a drifting burst, the
    on-periods of an intermittent carrier); each channel's row spans from the earliest
    first sample to the latest last sample of the blocks that touch it."""
    blocks = [b for b in blocks if b.chans.size]
    if not blocks:
        empty = np.zeros(0, np.int64)
        return PulseBlock(empty, empty.copy(), np.zeros((0, 1), np.float32))
    chans = np.unique(np.concatenate([b.chans for b in blocks]))
    k0 = np.full(chans.size, np.iinfo(np.int64).max, np.int64)
    k1 = np.full(chans.size, np.iinfo(np.int64).min, np.int64)
    for b in blocks:
        i = np.searchsorted(chans, b.chans)
        k0[i] = np.minimum(k0[i], b.k0)
        k1[i] = np.maximum(k1[i], b.k0 + b.data.shape[1])
    data = np.zeros((chans.size, int((k1 - k0).max())), np.float32)
    for b in blocks:
        i = np.searchsorted(chans, b.chans)
        cols = (b.k0 - k0[i])[:, None] + np.arange(b.data.shape[1])[None, :]
        data[i[:, None], cols] += b.data  # a block lists each channel once
    return PulseBlock(chans, k0, data)


def inject_block(data: NDArray, block: PulseBlock, start: int = 0, scale: float | NDArray = 1.0
                 ) -> None:
    """Add ``block`` into ``data`` in place.

    ``data`` is ``(nchan, ntime)`` (any strides, e.g. the transpose of a ``(ntime, nchan)``
    buffer) holding samples ``start .. start + ntime - 1``; parts of the block outside that
    range are skipped, so a pulse spanning several chunks is injected piecewise and exactly.
    ``scale`` multiplies the block (scalar or per-row ``(nc,)``), e.g. to convert from
    noise-sigma units to file units.
    """
    ntime = data.shape[1]
    if block.chans.size == 0:
        return
    cols = block.k0[:, None] - start + np.arange(block.data.shape[1])[None, :]
    ok = (cols >= 0) & (cols < ntime)
    if not ok.any():
        return
    rows = np.broadcast_to(block.chans[:, None], cols.shape)
    vals = block.data * (np.asarray(scale, dtype=np.float32).reshape(-1, 1)
                         if np.ndim(scale) else np.float32(scale))
    data[rows[ok], cols[ok]] += vals[ok]


def dedispersed_series(block: PulseBlock, delays: NDArray[np.int64],
                       weights: NDArray[np.float64] | None = None) -> tuple[NDArray, int]:
    """Sum of the block over channels after removing integer ``delays`` (samples, ``(nchan,)``).

    Returns the series (float64) and the dedispersed sample index of its first element:
    element ``i`` is the sum over channels of input sample ``first + i + delays[c]``
    (the CONTRACTS.md convention: dedispersed sample = time at the top of the band).
    ``weights`` (``(nchan,)``) multiplies each channel (0 = masked).
    """
    if block.chans.size == 0:
        return np.zeros(1), 0
    d = delays[block.chans]
    shift = block.k0 - d
    first = int(shift.min())
    length = block.data.shape[1]
    idx = (shift - first)[:, None] + np.arange(length)[None, :]
    vals = block.data.astype(np.float64)
    if weights is not None:
        vals = vals * weights[block.chans, None]
    series = np.bincount(idx.ravel(), weights=vals.ravel(), minlength=int(idx.max()) + 1)
    return series, first


def boxcar_snr(series: NDArray, n_eff: float, widths: NDArray[np.int64] = MATCHED_WIDTHS
               ) -> tuple[float, int, int]:
    """Best boxcar S/N of a noiseless signal ``series`` (sum of ``n_eff`` unit-variance channels).

    For each width ``w`` the S/N of a box is ``sum / sqrt(w * n_eff)``. Returns
    ``(snr, width, start)``: the best S/N, its width (samples) and the box's first index.
    """
    series = np.asarray(series, dtype=np.float64)
    pad = np.concatenate([np.zeros(1), np.cumsum(series)])
    best = (-np.inf, 1, 0)
    n = series.size
    for w in widths:
        w = int(w)
        if w > max(n, 1) * 2 and best[0] > -np.inf:
            break
        ww = min(w, n)
        sums = pad[ww:] - pad[:-ww]
        i = int(np.argmax(sums))
        snr = float(sums[i] / np.sqrt(w * n_eff))
        if snr > best[0]:
            best = (snr, w, i)
    return best
