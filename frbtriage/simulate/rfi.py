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

Interference that imitates bursts (off by default: ``SimulationConfig.families``; each with
its family name in ``params["family"]`` of ``truth.csv``):

* ``rfi_sweep`` (:class:`SweepRFI`) -- a broadband sweep arriving at ``time_s + sweep_s *
  g(f)``, ``g`` = ``(f^-a - f_top^-a) / (f_bottom^-a - f_top^-a)`` (0 at the top channel, 1
  at the bottom), Gaussian of FWHM ``width_s`` (1-20 ms) with the intra-channel smear of its
  own slope, over 60-100 % of the band, +-30 % spectral ripple. ``law`` (family):
  ``peryton``: ``a = 2 +- 0.05-0.3`` (microwave-oven perytons at Parkes: smooth,
  dispersion-like, not cold plasma), or, one in two, ``a = 2`` down to ``break_mhz`` with the
  lower part arriving at once (the law over part of the band only); ``power``: ``a = 1``
  (``f^-1`` chirp); ``linear``: ``a = -1`` (``t`` linear in ``f``); ``reversed``: ``a = 2``
  with the low frequencies first (``sweep_s < 0``). ``|sweep_s|`` is the cold-plasma sweep
  of a DM drawn like the bursts' (capped to fit the file), ``reversed`` of DM 5-50. A search
  reports a sweep at the DM trial that best aligns it, and its target S/N is that trial's.
* ``rfi_intermittent`` (:class:`IntermittentCarrier`) -- a narrowband carrier (0.3-5 MHz)
  switching on 2-6 times for 10-300 ms each, 20-500 ms apart, flat-topped with 1 ms edges
  (radar and telemetry duty cycles). Target S/N (DM 0) log-uniform 8-50.

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
from frbtriage.simulate.profiles import Pulse, PulseBlock, merge_blocks, render_pulse


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

    def render(self, layout: Layout, live: NDArray[np.bool_] | None = None) -> PulseBlock:
        """The event rendered on ``layout``'s samples, noise-sigma units."""
        return render_pulse(self.pulse(layout, live), layout.tsamp)

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
            w = w * _ripple(self.seed, f.size, self.spec_ripple)
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


def _ripple(seed: int, nchan: int, amount: float) -> NDArray[np.float64]:
    """A smooth random spectral modulation ``1 + amount * x``, ``|x| <= 1``, ``(nchan,)``."""
    rng = np.random.default_rng(seed)
    smooth = gaussian_filter1d(rng.standard_normal(nchan), max(nchan / 30, 1.0), mode="reflect")
    smooth /= max(float(np.abs(smooth).max()), 1e-12)
    return 1.0 + amount * smooth


#: The laws of :class:`SweepRFI`, and the family each is recorded as.
SWEEP_FAMILIES = {"peryton": "peryton", "power": "chirp_power", "linear": "chirp_linear",
                  "reversed": "chirp_reversed"}


@dataclass
class SweepRFI:
    """A broadband sweep by a law that is not cold plasma's (see the module doc).

    ``time_s``: arrival at the top channel centre (s); ``sweep_s``: arrival at the bottom
    channel centre minus that (s, negative = low frequencies first); ``index``: the exponent
    ``a``; ``break_mhz``: below it every channel arrives with it (0 = no break);
    ``f_lo_mhz``/``f_hi_mhz``: the part of the band it covers; ``fluence``: mean per-channel
    fluence over those channels (noise sigma x samples).
    """

    law: str
    time_s: float
    sweep_s: float
    index: float
    width_s: float
    f_lo_mhz: float
    f_hi_mhz: float
    break_mhz: float = 0.0
    spec_ripple: float = 0.3
    dm_like: float = 0.0
    fluence: float = 1.0
    seed: int = 0
    kind: str = "rfi_sweep"

    @property
    def family(self) -> str:
        """The family name recorded in the truth table."""
        return SWEEP_FAMILIES[self.law]

    @property
    def freq_range(self) -> tuple[float, float]:
        """Lowest and highest frequency (MHz) the sweep touches."""
        return self.f_lo_mhz, self.f_hi_mhz

    def arrival(self, freqs_mhz: NDArray, f_top: float, f_bottom: float) -> NDArray[np.float64]:
        """Arrival time (s) at ``freqs_mhz`` of a sweep defined between the channel centres
        ``f_top`` and ``f_bottom`` (MHz)."""
        f = np.maximum(np.asarray(freqs_mhz, dtype=np.float64), self.break_mhz)
        a = self.index
        if abs(a) < 1e-9:
            g = np.log(f / f_top) / np.log(f_bottom / f_top)
        else:
            g = (f**-a - f_top**-a) / (f_bottom**-a - f_top**-a)
        return self.time_s + self.sweep_s * g

    def pulse(self, layout: Layout, live: NDArray[np.bool_] | None = None) -> Pulse:
        """The sweep as a :class:`Pulse` on ``layout``."""
        f = layout.freqs
        t = self.arrival(f, float(f.max()), float(f.min()))
        slope = np.abs(np.gradient(t, f)) if f.size > 1 else np.zeros(1)
        w = band_weights(f, layout.chan_bw, self.f_lo_mhz, self.f_hi_mhz)
        if self.spec_ripple > 0:
            w = w * _ripple(self.seed, f.size, self.spec_ripple)
        on = w > 0
        mean = float(w[on].mean()) if on.any() else 1.0
        return Pulse(t_centre=t, sigma_s=self.width_s / FWHM_PER_SIGMA, tau=np.zeros(f.size),
                     smear=slope * layout.chan_bw, fluence=self.fluence * w / mean)

    def render(self, layout: Layout, live: NDArray[np.bool_] | None = None) -> PulseBlock:
        """The sweep rendered on ``layout``'s samples, noise-sigma units."""
        return render_pulse(self.pulse(layout, live), layout.tsamp)


def draw_sweep(rng: np.random.Generator, layout: Layout, law: str, dm_like: float) -> SweepRFI:
    """A :class:`SweepRFI` of ``law`` whose ``|sweep_s|`` is the cold-plasma sweep of
    ``dm_like`` (pc cm^-3) across the band; ``time_s`` is set by the caller."""
    if law not in SWEEP_FAMILIES:
        raise ValueError(f"unknown sweep law {law!r}")
    lo, hi = layout.f_bottom, layout.f_top
    index, brk = 2.0, 0.0
    if law == "peryton":
        if rng.random() < 0.5:
            index = 2.0 + float(rng.uniform(0.05, 0.3)) * (1 if rng.random() < 0.5 else -1)
        else:
            brk = float(rng.uniform(lo + 0.2 * (hi - lo), lo + 0.6 * (hi - lo)))
    elif law == "power":
        index = 1.0
    elif law == "linear":
        index = -1.0
    span = float(rng.uniform(0.6, 1.0)) * (hi - lo)
    f_lo = float(rng.uniform(lo, hi - span)) if span < hi - lo else lo
    sweep = layout.sweep(dm_like) * (-1.0 if law == "reversed" else 1.0)
    return SweepRFI(law=law, time_s=0.0, sweep_s=float(sweep), index=index,
                    width_s=_loguniform(rng, 1e-3, 20e-3), f_lo_mhz=f_lo, f_hi_mhz=f_lo + span,
                    break_mhz=brk, dm_like=float(dm_like), seed=int(rng.integers(2**31)))


@dataclass
class IntermittentCarrier:
    """A narrowband carrier around ``spec_centre_mhz`` (``spec_fwhm_mhz`` wide, flat top)
    switched on at ``starts_s`` for ``durations_s`` (s, with 1 ms edges); ``fluence`` is the
    mean per-channel fluence of all on-periods together (noise sigma x samples)."""

    time_s: float
    spec_centre_mhz: float
    spec_fwhm_mhz: float
    starts_s: tuple[float, ...]
    durations_s: tuple[float, ...]
    fluence: float = 1.0
    seed: int = 0
    kind: str = "rfi_intermittent"
    family: str = "intermittent"

    @property
    def freq_range(self) -> tuple[float, float]:
        """Lowest and highest frequency (MHz) the carrier touches."""
        return (self.spec_centre_mhz - self.spec_fwhm_mhz / 2,
                self.spec_centre_mhz + self.spec_fwhm_mhz / 2)

    @property
    def duration_s(self) -> float:
        """From the first switch-on to the last switch-off, s."""
        return self.starts_s[-1] + self.durations_s[-1] - self.starts_s[0]

    def render(self, layout: Layout, live: NDArray[np.bool_] | None = None) -> PulseBlock:
        """All on-periods rendered on ``layout``'s samples, noise-sigma units."""
        f = layout.freqs
        w = band_weights(f, layout.chan_bw, *self.freq_range)
        on = w > 0
        w = w / (float(w[on].mean()) if on.any() else 1.0)
        total = float(sum(self.durations_s))
        zeros = np.zeros(f.size)
        edge = 1e-3 / FWHM_PER_SIGMA
        return merge_blocks([render_pulse(Pulse(
            t_centre=np.full(f.size, t0 + d / 2), sigma_s=edge, tau=zeros,
            smear=np.full(f.size, d), fluence=self.fluence * (d / total) * w), layout.tsamp)
            for t0, d in zip(self.starts_s, self.durations_s, strict=True)])


def draw_intermittent(rng: np.random.Generator, layout: Layout, time_s: float
                      ) -> IntermittentCarrier:
    """An :class:`IntermittentCarrier` first switching on at ``time_s`` seconds."""
    bw = max(_loguniform(rng, 0.3, 5.0), layout.chan_bw)
    fc = float(rng.uniform(layout.f_bottom + bw / 2, layout.f_top - bw / 2))
    n = int(rng.integers(2, 7))
    durations = [_loguniform(rng, 10e-3, 300e-3) for _ in range(n)]
    starts, t = [], float(time_s)
    for d in durations:
        starts.append(t)
        t += d + _loguniform(rng, 20e-3, 500e-3)
    return IntermittentCarrier(time_s=float(time_s), spec_centre_mhz=fc, spec_fwhm_mhz=float(bw),
                               starts_s=tuple(starts), durations_s=tuple(durations),
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
