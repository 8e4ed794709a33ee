"""Radio-frequency interference models.

Transient RFI is injected with the same sample-integrated pulse machinery as bursts
(:class:`frbtriage.simulate.profiles.Pulse`), so it is placed with sub-sample accuracy and is
exact across chunk boundaries. Amplitudes are in units of each channel's noise sigma;
bright RFI saturates the 8-bit range as real RFI does.

* ``rfi_impulse`` -- broadband, zero-DM impulse (lightning, arcing power lines, electric
  fences, switching transients): arrives at every frequency at the same time ``time_s``.
  Gaussian of FWHM ``width_s`` (0.5-20 ms), covering all of the band or a random contiguous
  part of it (>= 40 %), with a smooth random spectral modulation of +-30 %
  (``spec_ripple``). Its target S/N at DM 0 is log-uniform 8-300.
* ``rfi_narrowband_burst`` -- a short burst confined to ``spec_fwhm_mhz`` (0.4-15 MHz,
  at least one channel) around ``spec_centre_mhz`` (radar pulses, communication bursts):
  Gaussian of FWHM ``width_s`` (2-200 ms) in time, flat top in frequency (each channel is
  weighted by its overlap with the band). Target S/N at DM 0 log-uniform 8-60; the bright
  ones saturate.
* ``rfi_drift`` -- a non-dispersive narrowband carrier sweeping linearly in frequency
  (``drift_mhz_s``, +-20-500 MHz/s) over ``duration_s`` from ``spec_centre_mhz``
  (chirped radar, frequency-hopping transmitters, satellites' Doppler track). The line is
  ``line_mhz`` (0.5-4 MHz) wide, so each channel sees a Gaussian of FWHM ``line_mhz / |drift|``
  (at least 1 ms) centred on the time the line crosses it. A downward sweep at
  ``r`` MHz/s mimics the local slope of a dispersed burst with ``DM = f^3 / (2 K_DM r)``,
  which is what a dedispersion search reports it at. Target S/N at DM 0 log-uniform 8-50.
* ``rfi_persistent_channel`` -- a carrier that never switches off (a TV or LTE station,
  a local oscillator): channels ``chan_lo..chan_hi`` get a power offset of ``level`` sigma,
  sinusoidally modulated by ``mod`` (0-0.5) with period ``period_s`` (0.5-20 s), and their
  noise scaled by ``noise_gain`` (1-3). These channels are listed in the channel mask
  (``obs.bad_chans``) as a real-time pipeline's RFI flagging would list them.

Bandpass ripple and dead channels are instrumental and modelled in
:mod:`frbtriage.simulate.noise`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from frbtriage.simulate.bursts import FWHM_PER_SIGMA, _loguniform
from frbtriage.simulate.layout import Layout
from frbtriage.simulate.profiles import Pulse


def band_weights(freqs_mhz: NDArray, chan_bw: float, f_lo: float, f_hi: float) -> NDArray:
    """Fraction of each channel ``(nchan,)`` that lies inside ``[f_lo, f_hi]`` MHz."""
    lo = np.maximum(freqs_mhz - chan_bw / 2, f_lo)
    hi = np.minimum(freqs_mhz + chan_bw / 2, f_hi)
    return np.clip((hi - lo) / chan_bw, 0.0, 1.0)


@dataclass
class TransientRFI:
    """One transient RFI event; ``kind`` selects the model (see the module doc).

    Times in s (``time_s`` = peak time; for a drift, when the line is at
    ``spec_centre_mhz``), frequencies in MHz, ``fluence`` = mean per-channel fluence over the
    channels it touches, in noise sigma x samples.
    """

    kind: str
    time_s: float
    width_s: float
    spec_centre_mhz: float
    spec_fwhm_mhz: float
    fluence: float = 1.0
    drift_mhz_s: float = 0.0
    duration_s: float = 0.0
    line_mhz: float = 0.0
    spec_ripple: float = 0.0
    seed: int = 0

    def as_dict(self) -> dict[str, float | str | int]:
        """Plain dict of the parameters."""
        return asdict(self)

    @property
    def freq_range(self) -> tuple[float, float]:
        """Lowest and highest frequency (MHz) the event touches."""
        if self.kind == "rfi_drift":
            f_end = self.spec_centre_mhz + self.drift_mhz_s * self.duration_s
            lo, hi = sorted((self.spec_centre_mhz, f_end))
            return lo - self.line_mhz / 2, hi + self.line_mhz / 2
        return (self.spec_centre_mhz - self.spec_fwhm_mhz / 2,
                self.spec_centre_mhz + self.spec_fwhm_mhz / 2)

    def pulse(self, layout: Layout, live: NDArray[np.bool_] | None = None) -> Pulse:
        """The event as a :class:`Pulse` on ``layout``."""
        f = layout.freqs
        zeros = np.zeros(f.size)
        sigma = self.width_s / FWHM_PER_SIGMA
        f_lo, f_hi = self.freq_range
        if self.kind == "rfi_drift":
            w = band_weights(f, layout.chan_bw, f_lo, f_hi)
            t = self.time_s + (f - self.spec_centre_mhz) / self.drift_mhz_s
            line_s = self.line_mhz / abs(self.drift_mhz_s)
            sigma = max(line_s, 1e-3) / FWHM_PER_SIGMA
        else:
            w = band_weights(f, layout.chan_bw, f_lo, f_hi)
            t = np.full(f.size, self.time_s)
        if self.spec_ripple > 0:
            rng = np.random.default_rng(self.seed)
            smooth = gaussian_filter1d(rng.standard_normal(f.size), max(f.size / 30, 1.0),
                                       mode="reflect")
            smooth /= max(float(np.abs(smooth).max()), 1e-12)
            w = w * (1.0 + self.spec_ripple * smooth)
        on = w > 0
        mean = float(w[on].mean()) if on.any() else 1.0
        return Pulse(t_centre=t, sigma_s=sigma, tau=zeros, smear=zeros.copy(),
                     fluence=self.fluence * w / mean)


def draw_impulse(rng: np.random.Generator, layout: Layout, time_s: float) -> TransientRFI:
    """Broadband zero-DM impulse at ``time_s`` seconds."""
    lo, hi = layout.f_bottom, layout.f_top
    if rng.random() < 0.6:
        f_lo, f_hi = lo, hi
    else:
        span = rng.uniform(0.4, 1.0) * (hi - lo)
        f_lo = rng.uniform(lo, hi - span)
        f_hi = f_lo + span
    return TransientRFI(kind="rfi_impulse", time_s=float(time_s),
                        width_s=_loguniform(rng, 0.5e-3, 20e-3),
                        spec_centre_mhz=float(0.5 * (f_lo + f_hi)),
                        spec_fwhm_mhz=float(f_hi - f_lo), spec_ripple=0.3,
                        seed=int(rng.integers(2**31)))


def draw_narrowband(rng: np.random.Generator, layout: Layout, time_s: float) -> TransientRFI:
    """Narrowband burst at ``time_s`` seconds."""
    bw = max(_loguniform(rng, 0.4, 15.0), layout.chan_bw)
    fc = float(rng.uniform(layout.f_bottom + bw / 2, layout.f_top - bw / 2))
    return TransientRFI(kind="rfi_narrowband_burst", time_s=float(time_s),
                        width_s=_loguniform(rng, 2e-3, 200e-3), spec_centre_mhz=fc,
                        spec_fwhm_mhz=float(bw), seed=int(rng.integers(2**31)))


def draw_drift(rng: np.random.Generator, layout: Layout, time_s: float) -> TransientRFI:
    """Linearly drifting narrowband carrier starting at ``time_s`` seconds."""
    rate = _loguniform(rng, 20.0, 500.0) * (1 if rng.random() < 0.4 else -1)
    span = _loguniform(rng, 20.0, 200.0)
    line = max(_loguniform(rng, 0.5, 4.0), layout.chan_bw)
    if rate > 0:
        f0 = float(rng.uniform(layout.f_bottom, max(layout.f_top - span, layout.f_bottom + 1)))
    else:
        f0 = float(rng.uniform(min(layout.f_bottom + span, layout.f_top - 1), layout.f_top))
    return TransientRFI(kind="rfi_drift", time_s=float(time_s), width_s=0.0,
                        spec_centre_mhz=f0, spec_fwhm_mhz=line, drift_mhz_s=float(rate),
                        duration_s=float(span / abs(rate)), line_mhz=float(line),
                        seed=int(rng.integers(2**31)))


@dataclass
class PersistentChannel:
    """A never-ending carrier in channels ``chan_lo..chan_hi`` (inclusive, file order).

    In those channels the data (noise sigma units) becomes
    ``noise_gain * n + level * (1 + mod * sin(2 pi t / period_s + phase))``.
    """

    chan_lo: int
    chan_hi: int
    freq_mhz: float
    level: float
    mod: float
    period_s: float
    phase: float
    noise_gain: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict of the parameters."""
        return asdict(self)

    def apply(self, buf: NDArray[np.float32], start: int, tsamp: float) -> None:
        """Apply to ``buf`` ``(ntime, nchan)`` (noise sigma units), samples from ``start`` on."""
        t = (start + np.arange(buf.shape[0])) * tsamp
        env = (self.level * (1 + self.mod * np.sin(2 * np.pi * t / self.period_s + self.phase))
               ).astype(np.float32)
        sl = slice(self.chan_lo, self.chan_hi + 1)
        buf[:, sl] *= np.float32(self.noise_gain)
        buf[:, sl] += env[:, None]


def draw_persistent(rng: np.random.Generator, layout: Layout, headroom: NDArray
                    ) -> PersistentChannel:
    """A persistent carrier of 0.3-1.5 MHz at a random frequency, kept below saturation."""
    bw = _loguniform(rng, 0.3, 1.5)
    n = max(1, int(round(bw / layout.chan_bw)))
    lo = int(rng.integers(0, layout.nchan - n + 1))
    hi = lo + n - 1
    gain = float(rng.uniform(1.0, 3.0))
    mod = float(rng.uniform(0.0, 0.5))
    room = float(np.min(headroom[lo:hi + 1])) - 3 * gain
    level = float(min(rng.uniform(2.0, 8.0), max(room / (1 + mod), 0.5)))
    return PersistentChannel(chan_lo=lo, chan_hi=hi, freq_mhz=float(layout.freqs[lo:hi + 1].mean()),
                             level=level, mod=mod, period_s=_loguniform(rng, 0.5, 20.0),
                             phase=float(rng.uniform(0, 2 * np.pi)), noise_gain=gain)
