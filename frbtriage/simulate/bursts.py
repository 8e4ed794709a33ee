"""Dispersed, scattered, scintillated FRB-like bursts.

Physics of one burst (all built in :meth:`Burst.pulse`)
------------------------------------------------------
* **Dispersion**: the emitted Gaussian arrives in channel ``c`` at
  ``time_s + delay_seconds(dm, f_c)`` (``frbtriage.physics``; ``time_s`` is the arrival at the
  top channel centre, the your/FETCH ``tcand`` convention).
* **Intrinsic width**: Gaussian with FWHM ``width_s``.
* **Intra-channel smearing**: a box of ``smearing_seconds(dm, f_c, chan_bw)``
  (``2 K_DM DM df / f^3``), e.g. 39 ms at 400 MHz for DM 3000 with 1024 channels.
* **Scattering**: one-sided exponential with ``tau(f) = scatter_s * (f / 600 MHz)^-4``
  (the thin-screen Kolmogorov-ish index; real values run -4 to -4.4).
* **Spectrum** ``S(f)``, normalised to a mean of 1 over the band, one of
  - ``gaussian``: band-limited, ``exp(-(f - spec_centre)^2 / (2 (spec_fwhm / 2.3548)^2))``,
    the shape of most CHIME one-off bursts;
  - ``powerlaw``: ``(f / f_ref)^spec_index``;
  - ``running_powerlaw``: ``(f / f_ref)^(spec_index + spec_running ln(f / f_ref))``, the
    CHIME/FRB catalogue's fitburst model; ``f_ref`` (``spec_ref_mhz``) is the band's centre,
    600 MHz for CHIME, so the catalogue's indices keep their meaning on other bands.
* **Scintillation** (multiplicative, optional): the intensity of a random complex
  Gaussian field whose decorrelation bandwidth is ``scint_bw`` at 600 MHz and scales as
  ``f^4.4``; it is generated on a frequency coordinate stretched so that the decorrelation
  bandwidth is constant there, averaged over each channel (so channels wider than the
  scintles wash the pattern out, as in real data), and mixed as
  ``1 + scint_mod * (I / <I> - 1)`` (``scint_mod`` = modulation index, 1 = fully modulated
  exponential statistics).
* **Fluence**: ``fluence`` is the mean over channels of the injected fluence, in units of a
  channel's noise sigma times one sample. The simulator picks it so that the burst's matched
  boxcar S/N (dedispersed at its DM, see :func:`frbtriage.simulate.search.expected_snr`)
  equals a target S/N; ``truth.csv`` also converts it to Jy ms with the radiometer equation
  for an assumed SEFD.

Parameter draws (:func:`draw_burst`)
------------------------------------
DM log-uniform in the requested range (capped so the sweep fits in the file),
FWHM log-uniform 0.2-8 ms, ``scatter_s`` at 600 MHz log-uniform 0.02-4 ms (one in four
unscattered), spectrum kind uniform over the three models, scintillation in half the bursts
with ``scint_bw`` log-uniform 0.2-20 MHz and modulation 0.3-1. The random scintillation
pattern and spectral ripples come from the burst's own ``seed``, so a burst can be rebuilt
from its parameters alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from frbtriage.physics import delay_seconds, smearing_seconds
from frbtriage.simulate.layout import Layout
from frbtriage.simulate.profiles import (
    Pulse,
    PulseBlock,
    inject_block,
    merge_blocks,
    render_pulse,
)

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
REF_FREQ_MHZ = 600.0
SCATTER_INDEX = -4.0
SCINT_INDEX = 4.4
SPECTRUM_KINDS = ("gaussian", "powerlaw", "running_powerlaw")


@dataclass
class Burst:
    """One burst's parameters (times in s, frequencies in MHz, DM in pc cm^-3)."""

    time_s: float
    dm: float
    width_s: float
    scatter_s: float
    spectrum: str
    spec_index: float = 0.0
    spec_running: float = 0.0
    spec_centre_mhz: float = REF_FREQ_MHZ
    spec_fwhm_mhz: float = 0.0
    #: where the power laws are referenced, MHz (:func:`draw_burst`: the band's centre, so a
    #: running power law peaks inside any telescope's band; CHIME's 600 MHz)
    spec_ref_mhz: float = REF_FREQ_MHZ
    scint_bw_mhz: float = 0.0
    scint_mod: float = 0.0
    fluence: float = 1.0
    seed: int = 0
    #: sub-bursts (drifting repeater bursts): component ``k`` (0 .. ``n_sub - 1``) arrives
    #: ``k * sub_gap_s`` after ``time_s``, its Gaussian spectrum centred ``k * sub_drift_mhz``
    #: from ``spec_centre_mhz`` (negative: the "sad trombone" of repeaters), carrying the share
    #: ``sub_amps[k] / sum(sub_amps)`` of the fluence; same DM, scattering and scintillation
    n_sub: int = 1
    sub_gap_s: float = 0.0
    sub_drift_mhz: float = 0.0
    sub_amps: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, float | str | int]:
        """Plain dict of the parameters."""
        return asdict(self)

    def components(self) -> list[Burst]:
        """The burst's sub-bursts as single-component bursts (itself when ``n_sub == 1``)."""
        if self.n_sub <= 1:
            return [self]
        amps = np.asarray(self.sub_amps or (1.0,) * self.n_sub, dtype=np.float64)
        share = amps / amps.sum()
        return [replace(self, time_s=self.time_s + k * self.sub_gap_s,
                        spec_centre_mhz=self.spec_centre_mhz + k * self.sub_drift_mhz,
                        fluence=self.fluence * float(share[k]), n_sub=1, sub_amps=())
                for k in range(self.n_sub)]

    def render(self, layout: Layout, live: NDArray[np.bool_] | None = None) -> PulseBlock:
        """The burst rendered on ``layout``'s samples (all sub-bursts), noise-sigma units."""
        return self.render_on(layout.freqs, layout.chan_bw, layout.tsamp, live)

    def render_on(self, freqs_mhz: NDArray, chan_bw: float, tsamp: float,
                  live: NDArray[np.bool_] | None = None) -> PulseBlock:
        """:meth:`render` on any channels (see :meth:`pulse_on`), samples of ``tsamp`` s."""
        if self.n_sub <= 1:
            return render_pulse(self.pulse_on(freqs_mhz, chan_bw, live), tsamp)
        return merge_blocks([render_pulse(c.pulse_on(freqs_mhz, chan_bw, live), tsamp)
                             for c in self.components()])

    def spectrum_shape(self, freqs_mhz: NDArray, chan_bw: float,
                       live: NDArray[np.bool_] | None = None) -> NDArray[np.float64]:
        """Relative spectrum ``(nchan,)`` incl. scintillation, mean 1 over ``live`` channels."""
        f = np.asarray(freqs_mhz, dtype=np.float64)
        x = f / self.spec_ref_mhz
        if self.spectrum == "gaussian":
            sd = self.spec_fwhm_mhz / FWHM_PER_SIGMA
            s = np.exp(-0.5 * ((f - self.spec_centre_mhz) / sd) ** 2)
        elif self.spectrum == "powerlaw":
            s = x ** self.spec_index
        elif self.spectrum == "running_powerlaw":
            s = x ** (self.spec_index + self.spec_running * np.log(x))
        else:
            raise ValueError(f"unknown spectrum kind {self.spectrum!r}")
        if self.scint_mod > 0 and self.scint_bw_mhz > 0:
            pattern = scintillation(f, chan_bw, self.scint_bw_mhz, np.random.default_rng(self.seed))
            s = s * (1.0 + self.scint_mod * (pattern - 1.0))
        keep = np.ones(f.size, bool) if live is None else live
        mean = float(s[keep].mean()) if keep.any() else 0.0
        return s / mean if mean > 0 else s

    def pulse(self, layout: Layout, live: NDArray[np.bool_] | None = None) -> Pulse:
        """The burst as a :class:`Pulse` on ``layout`` (fluence in sigma x samples per channel)."""
        return self.pulse_on(layout.freqs, layout.chan_bw, live)

    def pulse_on(self, freqs_mhz: NDArray, chan_bw: float,
                 live: NDArray[np.bool_] | None = None) -> Pulse:
        """The burst as a :class:`Pulse` on any channels: centres ``freqs_mhz`` ``(nchan,)``
        (ascending or descending), width ``chan_bw`` MHz; delays relative to the highest.
        A burst of several sub-bursts is not one pulse: use :meth:`render_on`."""
        if self.n_sub > 1:
            raise ValueError("a burst of several sub-bursts is rendered by render_on")
        f = np.asarray(freqs_mhz, dtype=np.float64)
        return Pulse(
            t_centre=self.time_s + delay_seconds(self.dm, f),
            sigma_s=self.width_s / FWHM_PER_SIGMA,
            tau=self.scatter_s * (f / REF_FREQ_MHZ) ** SCATTER_INDEX,
            smear=smearing_seconds(self.dm, f, abs(chan_bw)),
            fluence=self.fluence * self.spectrum_shape(f, abs(chan_bw), live),
        )


def inject_burst(data: NDArray, freqs_mhz: NDArray, tsamp: float, burst: Burst, start: int = 0,
                 scale: float | NDArray = 1.0) -> PulseBlock:
    """Add ``burst`` to ``data`` ``(nchan, ntime)`` in place, e.g. to inject into real data.

    ``data`` holds samples ``start ..`` of ``tsamp`` seconds in channels ``freqs_mhz``
    (MHz, equally spaced, any order). ``burst.fluence`` is in noise-sigma x samples per channel;
    ``scale`` (scalar or per channel ``(nchan,)``, e.g. each channel's noise std in data units)
    converts to the units of ``data``. Returns the rendered block (sigma units) so the caller
    can compute its S/N with :func:`frbtriage.simulate.profiles.dedispersed_series`.
    """
    f = np.asarray(freqs_mhz, dtype=np.float64)
    chan_bw = abs(float(f[1] - f[0])) if f.size > 1 else 1.0
    block = burst.render_on(f, chan_bw, tsamp)
    per_row = np.asarray(scale, dtype=np.float64)
    inject_block(data, block, start=start,
                 scale=per_row[block.chans] if per_row.ndim else float(per_row))
    return block


def scintillation(freqs_mhz: NDArray, chan_bw: float, scint_bw_600: float,
                  rng: np.random.Generator, oversample: int = 8) -> NDArray[np.float64]:
    """Channel-averaged scintillation gain ``(nchan,)``, mean ~1, exponential statistics.

    A complex white field on the stretched coordinate ``u(f) = int df / nu_d(f)`` with
    ``nu_d(f) = scint_bw_600 (f/600)^4.4`` is smoothed to a correlation length of 1 in ``u``;
    its intensity, normalised to mean 1, is averaged over each channel's ``u`` range.
    """
    f = np.asarray(freqs_mhz, dtype=np.float64)
    a = SCINT_INDEX - 1.0

    def u_of(freq: NDArray) -> NDArray:
        return REF_FREQ_MHZ / (a * scint_bw_600) * (1.0 - (freq / REF_FREQ_MHZ) ** -a)

    u_lo, u_hi = u_of(np.array(f.min() - chan_bw / 2)), u_of(np.array(f.max() + chan_bw / 2))
    n = int(np.ceil((u_hi - u_lo) * oversample)) + 2 * oversample
    field = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    field = gaussian_filter1d(field.real, oversample / 2.0) + 1j * gaussian_filter1d(
        field.imag, oversample / 2.0)
    inten = np.abs(field) ** 2
    inten /= inten.mean()
    grid = u_lo - oversample ** -1 + np.arange(n) / oversample
    cum = np.concatenate([[0.0], np.cumsum(inten)]) / oversample
    gridc = np.concatenate([[grid[0]], grid + 1.0 / oversample])
    edge_lo, edge_hi = u_of(f - chan_bw / 2), u_of(f + chan_bw / 2)
    c_lo, c_hi = np.interp(edge_lo, gridc, cum), np.interp(edge_hi, gridc, cum)
    width = np.maximum(edge_hi - edge_lo, 1e-12)
    return (c_hi - c_lo) / width


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def draw_burst(rng: np.random.Generator, layout: Layout, time_s: float, dm: float) -> Burst:
    """Random burst at ``time_s`` (top-of-band arrival, s) and ``dm`` (see the module doc)."""
    kind = SPECTRUM_KINDS[int(rng.integers(len(SPECTRUM_KINDS)))]
    b = Burst(
        time_s=float(time_s), dm=float(dm),
        width_s=_loguniform(rng, 0.2e-3, 8e-3),
        scatter_s=0.0 if rng.random() < 0.25 else _loguniform(rng, 0.02e-3, 4e-3),
        spectrum=kind,
        spec_ref_mhz=0.5 * (layout.f_top + layout.f_bottom),
        seed=int(rng.integers(2**31)),
    )
    lo, hi = float(layout.freqs.min()), float(layout.freqs.max())
    if kind == "gaussian":
        b.spec_centre_mhz = float(rng.uniform(lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo)))
        b.spec_fwhm_mhz = _loguniform(rng, 40.0, 400.0)
    elif kind == "powerlaw":
        b.spec_index = float(rng.uniform(-5.0, 5.0))
    else:
        b.spec_index = float(rng.uniform(-3.0, 3.0))
        b.spec_running = float(rng.uniform(-40.0, -3.0))
    if rng.random() < 0.5:
        b.scint_bw_mhz = _loguniform(rng, 0.2, 20.0)
        b.scint_mod = float(rng.uniform(0.3, 1.0))
    return b


#: Burst morphologies beyond :func:`draw_burst`'s (catalogue morphologies a model trained on
#: its draws may not know); :func:`draw_family_burst` draws one.
BURST_FAMILIES = ("band_limited", "scattered", "drifting", "wide", "low_dm", "faint")
#: DM range (pc cm^-3) of ``low_dm`` bursts.
LOW_DM_RANGE = (10.0, 40.0)
#: S/N above the search threshold of ``faint`` bursts (target S/N threshold .. threshold + 3).
FAINT_EXCESS = 3.0


def draw_family_burst(rng: np.random.Generator, layout: Layout, family: str, time_s: float,
                      dm: float) -> Burst:
    """A burst of ``family`` (one of :data:`BURST_FAMILIES`) at ``time_s`` (s, top of the
    band) and ``dm`` (pc cm^-3): :func:`draw_burst`'s draws, then

    * ``band_limited``: a Gaussian spectrum 30-400 MHz wide (FWHM, log-uniform) anywhere in
      the band, or (one in three) a steep power law, index +-(8-20), bright at one edge;
    * ``scattered``: scattering time 3-30 ms at 600 MHz (log-uniform; ``f^-4``: 15-150 ms
      at 400 MHz);
    * ``drifting``: 2-4 sub-bursts 2-10 ms apart, each a Gaussian spectrum 60-200 MHz wide,
      their centres falling 30-120 MHz per sub-burst (repeaters' downward drift), widths
      0.5-4 ms, amplitudes 0.4-1;
    * ``wide``: FWHM 10-50 ms (log-uniform);
    * ``low_dm`` and ``faint``: :func:`draw_burst`'s morphology (the caller picks the DM and
      the S/N: :data:`LOW_DM_RANGE`, threshold + 0-:data:`FAINT_EXCESS`).
    """
    if family not in BURST_FAMILIES:
        raise ValueError(f"unknown burst family {family!r}")
    b = draw_burst(rng, layout, time_s, dm)
    lo, hi = float(layout.freqs.min()), float(layout.freqs.max())
    if family == "band_limited":
        if rng.random() < 2 / 3:
            b.spectrum = "gaussian"
            b.spec_fwhm_mhz = _loguniform(rng, 30.0, 400.0)
            b.spec_centre_mhz = float(rng.uniform(lo, hi))
        else:
            b.spectrum = "powerlaw"
            b.spec_index = float(rng.uniform(8.0, 20.0)) * (1 if rng.random() < 0.5 else -1)
    elif family == "scattered":
        b.scatter_s = _loguniform(rng, 3e-3, 30e-3)
    elif family == "drifting":
        b.spectrum = "gaussian"
        b.n_sub = int(rng.integers(2, 5))
        b.sub_gap_s = float(rng.uniform(2e-3, 10e-3))
        b.sub_drift_mhz = -float(rng.uniform(30.0, 120.0))
        b.spec_fwhm_mhz = float(rng.uniform(60.0, 200.0))
        span = -b.sub_drift_mhz * (b.n_sub - 1)
        b.spec_centre_mhz = float(rng.uniform(lo + span, hi)) if span < hi - lo else hi
        b.width_s = _loguniform(rng, 0.5e-3, 4e-3)
        b.sub_amps = tuple(float(a) for a in rng.uniform(0.4, 1.0, b.n_sub))
    elif family == "wide":
        b.width_s = _loguniform(rng, 10e-3, 50e-3)
    return b
