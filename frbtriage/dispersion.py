"""Does the candidate sweep as cold plasma does? The dispersion index from its ``ft`` image.

A real burst arrives at frequency ``f`` at ``t(f) = t0 + K_DM * DM * f**-2``: the exponent,
the *dispersion index*, is 2.000 for every astrophysical source (measured FRBs agree to a
few parts in a thousand). Perytons (microwave ovens at Parkes), chirps and other
interference that a search reports at some DM sweep by other laws (``f**-1``, linear, part
of the band only), and a network can be fooled by their smooth sweeps. The index is measured
from the data the candidate is judged by, so it is a check the network cannot fake.

Method (:func:`dispersion_index`):

1. ``ft`` ``(nfreq, ntime)`` is the candidate dedispersed at its DM (row 0 = highest
   frequency, columns ``pixel_s`` seconds apart, as ``frbtriage.prepare`` stores it). Its
   rows are summed into sub-bands (32, 16, 8 or 4: the division in which most sub-bands
   hold a pulse, so a faint burst is measured in wide sub-bands and a band-limited one
   where it shines).
2. A sub-band's arrival time is the peak of its profile filtered by a boxcar of the pulse
   width (refined by a parabola); its error comes from the curvature of the profile
   likelihood at that peak (the matched-filter error) plus the 1/sqrt(12) pixel of
   integer-sample dedispersion. A sub-band whose peak is below ``MIN_SUBBAND_SNR`` gives no
   time. The track need not be straight: each sub-band is timed on its own, so a sweep
   that bends away from the DM's is timed where it is.
3. Undoing the dedispersion, ``T_s = lag_s * pixel_s + K_DM * DM * (f_s**-2 - f_hi**-2)``
   is fitted by ``t0 + D * (f**-alpha - f_hi**-alpha) / (f_lo**-alpha - f_hi**-alpha)``:
   linear least squares for ``(t0, D)`` at each ``alpha`` of a grid, ``alpha`` where the
   chi-square is least (refined by a parabola), its 1-sigma interval where the chi-square
   rises by one (by the reduced chi-square when that exceeds one, so that arrival-time
   errors that are too small do not make the index look surer than it is).

What it cannot do: a sweep that leaves the image's time window somewhere in the band is
measured on the sub-bands still inside (or not at all); intrinsic frequency drifts of
repeaters' sub-bursts and scattering tails bias arrival times by up to a pulse width, so
:attr:`DispersionCheck.consistent` allows ``COLD_PLASMA_TOLERANCE`` beyond 3 sigma.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from frbtriage.conventions import decimation
from frbtriage.physics import K_DM

if TYPE_CHECKING:
    from frbtriage.db import CandidateRecord
    from frbtriage.workspace import NewCandidate

__all__ = ["COLD_PLASMA_TOLERANCE", "VETO_CAP", "VETO_MAX_ERR", "DispersionCheck",
           "check_candidate", "checked_p_astro", "cold_plasma", "dispersion_index", "measure",
           "row_frequencies", "vetoes"]

#: Sub-band S/N a pulse must reach to give an arrival time.
MIN_SUBBAND_SNR = 5.0
#: Sub-bands with an arrival time needed (the fit has three parameters: four is the least
#: that tests the law).
MIN_SUBBANDS = 4
#: The divisions of the band tried, finest first.
SUBBANDS = (32, 16, 8, 4)
#: The grid of indices fitted (the 1-sigma interval must lie inside it to count): from -2
#: (a linear chirp, ``t`` proportional to ``-f``, is -1) to 4, in steps of 0.0025.
ALPHA_GRID = np.linspace(-2.0, 4.0, 2401)
#: How far from 2 a consistent index may lie beyond 3 sigma (drifts and scattering bias it).
COLD_PLASMA_TOLERANCE = 0.02


def cold_plasma(index: float | None, err: float | None, delay_s: float | None) -> bool | None:
    """The rule: a sweep is cold plasma's when its ``index`` agrees with 2 within 3 ``err``
    plus :data:`COLD_PLASMA_TOLERANCE` and its low frequencies arrive later (``delay_s > 0``,
    seconds); None when it was not measured (any of them None or NaN)."""
    values = (index, err, delay_s)
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    if not delay_s > 0:  # type: ignore[operator]
        return False
    return abs(index - 2.0) <= 3.0 * err + COLD_PLASMA_TOLERANCE  # type: ignore[operator]


#: The most p_astro a ranking gives a candidate whose sweep was measured and is not cold
#: plasma's (:func:`checked_p_astro`). Measured on the imitating families
#: (``benchmarks/bench_families.py``): confident errors on interference halved, no burst
#: capped.
VETO_CAP = 0.5

#: Largest 1-sigma error of a measured index that may cap a score (:func:`vetoes`); a looser
#: measurement still says "not cold plasma" (:func:`cold_plasma`) but leaves p_astro alone.
#: Measured (2026-12-04) on CHIME-like unseen simulations with another interference mix
#: (persistent carriers, drifts, 6 % dead channels; 782 candidates, 143 of the 240 bursts
#: measured): 17 bursts failed the cold-plasma test, 12 of them with errors of 0.11-0.74
#: (sub-band arrival times pulled by interference), so the uncapped veto took the shipped
#: model's recall at 1 % FPR from 0.988 to 0.921; with this limit 5 bursts are capped and it
#: is 0.967. On bench_families' 103 imitating candidates the veto still takes confident errors
#: from 15 to 8 (7 without the limit).
VETO_MAX_ERR = 0.1


def vetoes(index: float | None, err: float | None, delay_s: float | None) -> bool:
    """Whether the dispersion-law check caps a score: the sweep was measured to within
    :data:`VETO_MAX_ERR` and is not cold plasma's (:func:`cold_plasma` False)."""
    return cold_plasma(index, err, delay_s) is False and err <= VETO_MAX_ERR  # type: ignore[operator]


def checked_p_astro(p_astro: float, index: float | None, err: float | None,
                    delay_s: float | None) -> float:
    """``p_astro`` after the dispersion-law check: capped at :data:`VETO_CAP` where the check
    :func:`vetoes` it, else unchanged (a veto only: a consistent sweep never raises a score,
    an unmeasured or loosely measured one never lowers it)."""
    if vetoes(index, err, delay_s):
        return min(p_astro, VETO_CAP)
    return p_astro


@dataclass(frozen=True)
class DispersionCheck:
    """The dispersion index of one candidate.

    ``index``: the fitted exponent (NaN when not measurable, with ``reason`` saying why);
    ``err``: its 1-sigma error; ``subbands``: how many sub-bands gave an arrival time, of
    ``tried``; ``span_mhz``: the frequency range between the outermost ones; ``delay_s``: the
    fitted delay of the band's bottom edge after its top (s; negative = the low frequencies
    arrive first, a reversed chirp, which cold plasma never makes; NaN when not measured).
    """

    index: float
    err: float
    subbands: int
    tried: int
    span_mhz: float
    reason: str = ""
    delay_s: float = math.nan

    @property
    def measured(self) -> bool:
        """True when the index was measured."""
        return math.isfinite(self.index)

    @property
    def sigma_from_cold_plasma(self) -> float:
        """``(index - 2) / err`` (NaN when not measured)."""
        return (self.index - 2.0) / self.err if self.measured else math.nan

    @property
    def consistent(self) -> bool | None:
        """True when the index agrees with 2 (within 3 sigma plus
        :data:`COLD_PLASMA_TOLERANCE`) and the low frequencies arrive later
        (``delay_s > 0``), False when not, None when not measured."""
        return cold_plasma(self.index, self.err, self.delay_s)

    def describe(self) -> str:
        """One line for people: the index and what it means."""
        if not self.measured:
            return f"dispersion index not measured: {self.reason}"
        verdict = ("consistent with cold plasma (2)" if self.consistent
                   else "NOT the cold-plasma law (2)")
        if not self.delay_s > 0:
            verdict += ", low frequencies first"
        return (f"dispersion index {self.index:.3f} +- {self.err:.3f} from {self.subbands} "
                f"sub-bands over {self.span_mhz:.0f} MHz: {verdict}")


def row_frequencies(nrows: int, f_hi_mhz: float, f_lo_mhz: float) -> NDArray[np.float64]:
    """Centre frequencies (MHz) of ``nrows`` equal rows from the band's top edge ``f_hi_mhz``
    down to its bottom edge ``f_lo_mhz`` (row 0 highest, as in a stored ``ft`` image)."""
    edges = np.linspace(f_hi_mhz, f_lo_mhz, nrows + 1)
    return 0.5 * (edges[:-1] + edges[1:])


def _unmeasured(reason: str, tried: int = 0, found: int = 0) -> DispersionCheck:
    return DispersionCheck(math.nan, math.nan, found, tried, math.nan, reason)


def _subband_arrivals(img: NDArray[np.float64], noise: NDArray[np.float64],
                      centres: NDArray[np.float64], nsub: int, width: int
                      ) -> list[tuple[float, float, float]]:
    """``(frequency MHz, arrival px, error px)`` of each of ``nsub`` sub-bands holding a pulse
    at S/N >= :data:`MIN_SUBBAND_SNR`. A sub-band's arrival is the peak of its profile
    filtered by a ``width``-pixel boxcar, refined by a parabola; its error comes from the
    profile likelihood's curvature there, plus the 1/sqrt(12) pixel of integer-sample
    dedispersion. All-zero rows (masked channels) add nothing and do not count in the
    sub-band's frequency. ``img`` has each row's median subtracted; ``noise`` ``(nrows,)`` is
    each row's robust standard deviation (the rows' noise is taken as independent)."""
    starts = np.linspace(0, img.shape[0], nsub + 1).round().astype(int)[:-1]
    live = (np.abs(img).sum(1) > 0).astype(np.float64)
    nlive = np.add.reduceat(live, starts)
    q = np.add.reduceat(img, starts, axis=0)  # (nsub, ntime)
    sigma = np.sqrt(np.add.reduceat(noise**2, starts))
    c = np.concatenate([np.zeros((nsub, 1)), np.cumsum(q, axis=1)], axis=1)
    sm = c[:, width:] - c[:, :-width]  # boxcar sums; a constant offset of (width-1)/2 px
    k = np.argmax(sm[:, 1:-1], axis=1) + 1
    rows = np.arange(nsub)
    peak, before, after = sm[rows, k], sm[rows, k - 1], sm[rows, k + 1]
    curv = before - 2.0 * peak + after
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = peak / (sigma * math.sqrt(width))
        shift = 0.5 * (before - after) / curv
        err = np.sqrt(sigma**2 * width / (peak * -curv) + 1.0 / 12.0)
        freq = np.add.reduceat(centres * live, starts) / nlive
    ok = (nlive > 0) & (sigma > 0) & (curv < 0) & (peak > 0) & (snr >= MIN_SUBBAND_SNR)
    return [(float(freq[i]), float(k[i] + shift[i]), float(err[i])) for i in np.flatnonzero(ok)]


def _shape(alphas: NDArray[np.float64], freqs: NDArray[np.float64], f_hi: float, f_lo: float
           ) -> NDArray[np.float64]:
    """``(f**-a - f_hi**-a) / (f_lo**-a - f_hi**-a)`` ``(nalpha, nfreq)``: 0 at the top edge,
    1 at the bottom; its limit ``ln(f / f_hi) / ln(f_lo / f_hi)`` at ``a = 0``."""
    a = alphas[:, None]
    zero = np.abs(a) < 1e-9
    safe = np.where(zero, 1.0, a)
    g = (freqs[None, :] ** -safe - f_hi ** -safe) / (f_lo ** -safe - f_hi ** -safe)
    return np.where(zero, np.log(freqs[None, :] / f_hi) / math.log(f_lo / f_hi), g)


def _lsq(alphas: NDArray[np.float64], freqs: NDArray[np.float64], times: NDArray[np.float64],
         w: NDArray[np.float64], f_hi: float, f_lo: float
         ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Chi-square ``(nalpha,)`` of the weighted least-squares ``t0 + D g_alpha(f)`` at each of
    ``alphas``, and its ``D`` ``(nalpha,)`` (s: the delay of ``f_lo`` after ``f_hi``)."""
    g = _shape(alphas, freqs, f_hi, f_lo)  # (nalpha, nsub)
    sw, swt = w.sum(), (w * times).sum()
    swg, swgg, swgt = (w * g).sum(1), (w * g * g).sum(1), (w * g * times).sum(1)
    d = (sw * swgt - swg * swt) / (sw * swgg - swg**2)
    t0 = (swt - d * swg) / sw
    return (w * (times[None, :] - t0[:, None] - d[:, None] * g) ** 2).sum(1), d


def _interval(alphas: NDArray[np.float64], chi2: NDArray[np.float64], scale: float
              ) -> tuple[float, float] | None:
    """The ``alpha`` range where ``chi2`` is within ``scale`` of its least, or None when it
    reaches an end of ``alphas`` (not constrained there)."""
    inside = np.flatnonzero(chi2 <= chi2.min() + scale)
    if inside[0] == 0 or inside[-1] == alphas.size - 1:
        return None
    return float(alphas[inside[0]]), float(alphas[inside[-1]])


def _fit(freqs: NDArray[np.float64], times: NDArray[np.float64], errs: NDArray[np.float64],
         f_hi: float, f_lo: float) -> tuple[float, float, float]:
    """Best ``alpha``, its 1-sigma error and the fitted delay ``D`` (s) for ``times`` (s,
    errors ``errs``) at ``freqs`` (MHz): a coarse grid over :data:`ALPHA_GRID`, then a fine
    one around its least."""
    w = 1.0 / errs**2
    chi2, d = _lsq(ALPHA_GRID, freqs, times, w, f_hi, f_lo)
    scale = max(1.0, float(chi2.min()) / (freqs.size - 3))  # reduced chi-square when > 1
    coarse = _interval(ALPHA_GRID, chi2, scale)
    if coarse is None:
        best = int(np.argmin(chi2))
        return float(ALPHA_GRID[best]), math.inf, float(d[best])
    step = float(ALPHA_GRID[1] - ALPHA_GRID[0])
    fine = np.linspace(coarse[0] - step, coarse[1] + step, 801)
    chi2, d = _lsq(fine, freqs, times, w, f_hi, f_lo)
    lo, hi = _interval(fine, chi2, scale) or coarse
    best = int(np.argmin(chi2))
    return float(fine[best]), 0.5 * (hi - lo), float(d[best])


def dispersion_index(ft: ArrayLike, f_hi_mhz: float, f_lo_mhz: float, pixel_s: float,
                     dm: float, width_px: float = 1.0) -> DispersionCheck:
    """Measure the dispersion index of a candidate from its dedispersed image.

    ``ft`` ``(nfreq, ntime)``: the candidate dedispersed at ``dm`` (pc cm^-3), row 0 the
    highest frequency; the rows evenly cover ``f_hi_mhz`` (top edge) down to ``f_lo_mhz``
    (bottom edge); columns are ``pixel_s`` seconds apart; ``width_px`` the pulse width in
    columns (a stored image holds a pulse of ``width`` samples in about 2 columns). Masked
    channels may be zero rows. Returns a :class:`DispersionCheck`; see the module docstring
    for the method. Raises ``ValueError`` for arguments that cannot describe an image.
    """
    img = np.asarray(ft, dtype=np.float32)
    if img.ndim != 2 or min(img.shape) < 8:
        raise ValueError(f"ft must be (nfreq >= 8, ntime >= 8), got shape {img.shape}")
    if not (f_hi_mhz > f_lo_mhz > 0 and pixel_s > 0 and dm >= 0 and width_px > 0):
        raise ValueError(f"band {f_hi_mhz}..{f_lo_mhz} MHz, pixel {pixel_s} s, DM {dm} and "
                         f"width {width_px} px must be positive (DM may be 0)")
    if not np.isfinite(img).all():
        img = np.where(np.isfinite(img), img, 0.0)
    nfreq = img.shape[0]
    centres = row_frequencies(nfreq, f_hi_mhz, f_lo_mhz)
    width = max(1, int(round(width_px)))
    tries = [n for n in SUBBANDS if n <= nfreq]
    # the division with the most sub-bands holding a pulse (a band-limited burst is seen in
    # few, a faint one only in wide sub-bands); on a tie the finer one, as max keeps the first
    img = img - np.median(img, axis=1, keepdims=True)
    noise = 1.4826 * np.median(np.abs(img), axis=1)
    nsub, found = max(((n, _subband_arrivals(img, noise, centres, n, width)) for n in tries),
                      key=lambda nf: len(nf[1]))
    if len(found) < MIN_SUBBANDS:
        return _unmeasured(f"a pulse in {len(found)} sub-bands at most ({MIN_SUBBANDS} needed; "
                           f"divisions into {', '.join(map(str, tries))} tried)",
                           nsub, len(found))
    freqs, lags, errs = (np.array(c) for c in zip(*found, strict=True))
    times = lags * pixel_s + K_DM * dm * (freqs**-2 - f_hi_mhz**-2)
    index, err, delay = _fit(freqs, times, errs * pixel_s, f_hi_mhz, f_lo_mhz)
    span = float(freqs.max() - freqs.min())
    if not math.isfinite(err):
        return DispersionCheck(math.nan, math.nan, len(found), nsub, span,
                               f"the index is not constrained over {span:.0f} MHz")
    return DispersionCheck(float(index), err, len(found), nsub, span, delay_s=delay)


def measure(new: NewCandidate, ft: ArrayLike) -> NewCandidate:
    """``new`` with its ``dispersion_index``, ``dispersion_err`` and ``dispersion_delay_s``
    measured from its ``ft`` image (256, 256) and the axes it carries; unchanged (None) when
    it has no axes or the index cannot be measured. Every source that stores candidates
    calls this."""
    if new.f_hi_mhz is None or new.f_lo_mhz is None or new.pixel_s is None:
        return new
    r = dispersion_index(ft, new.f_hi_mhz, new.f_lo_mhz, new.pixel_s, new.dm,
                         new.width / decimation(new.width))
    if not r.measured:
        return new
    return dataclasses.replace(new, dispersion_index=r.index, dispersion_err=r.err,
                               dispersion_delay_s=r.delay_s)


def check_candidate(rec: CandidateRecord, ft: ArrayLike) -> DispersionCheck:
    """:func:`dispersion_index` of a stored candidate ``rec`` from its ``ft`` image (256, 256),
    with the axes the workspace recorded for it (a pulse of ``width`` samples spans
    ``width / decimation(width)`` columns)."""
    if rec.f_hi_mhz is None or rec.f_lo_mhz is None or rec.pixel_s is None:
        return _unmeasured("the image's band and time step were not recorded (stored before "
                           "frbtriage recorded them, or by a source that does not give them)")
    return dispersion_index(ft, rec.f_hi_mhz, rec.f_lo_mhz, rec.pixel_s, rec.dm,
                            rec.width / decimation(rec.width))
