"""Plan and write a whole simulated observation: filterbank, truth table, candidate list.

:func:`simulate_observation` first plans every injection (parameters, expected S/N, what a
search would report), then writes the 8-bit filterbank in chunks of time so memory stays
bounded for any length and channel count: per chunk it draws radiometer noise, adds the
persistent carriers and every transient overlapping the chunk (pulses are rendered once per
event and injected piecewise, so chunk boundaries are exact), and quantises around the
bandpass. Outputs (in ``out_dir``; each written to a temporary name, then renamed):

* ``obs.fil`` -- sigproc filterbank written with ``your``'s writer (8 bits, ``nchan``
  channels from 800 MHz down, ``foff = -400/nchan`` MHz, 0.98304 ms samples; another
  telescope's band and sample time with ``telescope``, :mod:`frbtriage.simulate.telescopes`);
* ``obs.bad_chans`` -- the channel mask a real-time pipeline would apply (dead channels and
  persistent carriers), one channel index per line, as ``your_candmaker.py`` reads it;
* ``truth.csv`` -- every injection (:mod:`frbtriage.simulate.truth`);
* ``candidates.csv`` -- your/FETCH candmaker CSV of what a search reports
  (:mod:`frbtriage.simulate.search`): bursts label 1, RFI and noise label 0.

Families (off by default, ``families``): burst morphologies
(:data:`~frbtriage.simulate.bursts.BURST_FAMILIES`: band-limited, scattered, drifting
multi-component, wide, low-DM, faint) and interference that imitates bursts
(:data:`FAMILY_RFI`: peryton-like sweeps, ``f^-1``, linear and reversed chirps, intermittent
carriers), ``family_rate`` of each per minute on top of the mix above, drawn from their own
random stream (the rest of the observation is what it is without them, except for the
search's noise draws), each recorded with its family name in ``params["family"]`` of
``truth.csv`` (:func:`frbtriage.simulate.truth.family_of`).

Defaults per simulated minute: 10 bursts, 6 broadband impulses, 6 narrowband bursts,
2 drifting carriers, 20 noise candidates; 4 persistent carriers and 3 % dead channels per
file. Burst DMs are log-uniform in ``dm_range`` but capped at the largest DM whose sweep
(plus 0.3 s at each end) fits in the file (for a 30 s file: DM ~1500); if even the lower
end does not fit, the range becomes [cap/4, cap]. The same seed always gives identical bytes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from frbtriage.errors import InputError
from frbtriage.safe_write import replacing
from frbtriage.simulate.bursts import (
    BURST_FAMILIES,
    FAINT_EXCESS,
    LOW_DM_RANGE,
    REF_FREQ_MHZ,
    Burst,
    _loguniform,
    draw_burst,
    draw_family_burst,
)
from frbtriage.simulate.layout import EDGE_MARGIN_S, Layout, make_layout
from frbtriage.simulate.noise import (
    Bandpass,
    choose_dead_channels,
    make_bandpass,
    noise_chunk,
    quantise,
)
from frbtriage.simulate.profiles import PulseBlock, inject_block
from frbtriage.simulate.rfi import (
    SWEEP_FAMILIES,
    IntermittentCarrier,
    PersistentChannel,
    SweepRFI,
    TransientRFI,
    draw_drift,
    draw_impulse,
    draw_intermittent,
    draw_narrowband,
    draw_persistent,
    draw_sweep,
)
from frbtriage.simulate.search import SearchEmulator, Trace, capped, expected_snr
from frbtriage.simulate.truth import (
    CandidateRow,
    TruthRow,
    candidate_row,
    write_candidates_csv,
    write_truth_csv,
)

log = logging.getLogger(__name__)

FIL_NAME = "obs.fil"
MASK_NAME = "obs.bad_chans"
#: The ``rawdatafile`` header field of the written filterbank: the name of the temporary file
#: the first release wrote through. Kept, not the real name, so that the committed
#: data_samples/chime_sim stays byte-for-byte what its README command makes.
_RAWDATAFILE = FIL_NAME + ".partial"
TRUTH_NAME = "truth.csv"
CANDS_NAME = "candidates.csv"
#: MJD of the first sample (2024-01-01); only written to the header.
TSTART_MJD = 60310.0
#: Keep rendered pulses in memory between planning and writing up to this many bytes.
_CACHE_BYTES = 256 * 2**20
#: Interference families that imitate bursts: the sweep laws' families, then "intermittent".
FAMILY_RFI = (*SWEEP_FAMILIES.values(), "intermittent")
#: Every family ``SimulationConfig.families`` may name.
FAMILIES = (*BURST_FAMILIES, *FAMILY_RFI)
#: Target S/N range of the interference families (at the DM a search reports them).
FAMILY_RFI_SNR = (8.0, 50.0)
#: DM range (pc cm^-3) whose sweeps ``chirp_reversed`` events take.
REVERSED_DM_RANGE = (5.0, 50.0)

Model = Burst | TransientRFI | SweepRFI | IntermittentCarrier


@dataclass
class SimulationConfig:
    """Everything that shapes a simulated observation (rates are per simulated minute)."""

    minutes: float = 0.5
    #: channels (None: the telescope's own count, 1024 for CHIME)
    nchan: int | None = None
    seed: int = 0
    n_bursts: int | None = None
    burst_rate: float = 10.0
    snr_range: tuple[float, float] = (6.0, 100.0)
    dm_range: tuple[float, float] = (50.0, 3000.0)
    rfi_rate: float = 1.0
    impulse_rate: float = 6.0
    narrowband_rate: float = 6.0
    drift_rate: float = 2.0
    n_persistent: int = 4
    noise_rate: float = 20.0
    dead_fraction: float = 0.03
    threshold: float = 6.0
    sefd_jy: float = 50.0
    clean_negatives: bool = False
    #: extra families to inject (names from :data:`FAMILIES`), ``family_rate`` of each a minute
    families: tuple[str, ...] = ()
    family_rate: float = 10.0
    #: whose band, channels and sample time (:data:`frbtriage.simulate.telescopes.TELESCOPES`)
    telescope: str = "chime"

    def validate(self, path: object = None) -> Layout:
        """Check every value; raise :class:`InputError` naming ``path``; return the layout."""
        layout = make_layout(self.minutes, self.nchan, path, self.telescope)

        def bad(msg: str) -> None:
            raise InputError(path, msg)

        lo, hi = self.snr_range
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
            bad(f"--snr needs 0 < MIN <= MAX, got {lo} {hi}")
        lo, hi = self.dm_range
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo <= hi):
            bad(f"--dm needs 0 <= MIN <= MAX, got {lo} {hi}")
        for name in ("burst_rate", "rfi_rate", "impulse_rate", "narrowband_rate",
                     "drift_rate", "noise_rate"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                bad(f"--{name.replace('_', '-')} must be >= 0, got {v}")
        if self.n_bursts is not None and self.n_bursts < 0:
            bad(f"--n-bursts must be >= 0, got {self.n_bursts}")
        if self.n_persistent < 0:
            bad(f"--n-persistent must be >= 0, got {self.n_persistent}")
        if not 0 <= self.dead_fraction <= 0.5:
            bad(f"--dead-fraction must be in [0, 0.5], got {self.dead_fraction}")
        if not (np.isfinite(self.threshold) and self.threshold > 0):
            bad(f"--threshold must be > 0, got {self.threshold}")
        if not 0 <= self.seed < 2**63:
            bad(f"--seed must be a non-negative integer, got {self.seed}")
        unknown = sorted(set(self.families) - set(FAMILIES))
        if unknown:
            bad(f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)} "
                f"(known: {', '.join(FAMILIES)})")
        if not (np.isfinite(self.family_rate) and self.family_rate >= 0):
            bad(f"--family-rate must be >= 0, got {self.family_rate}")
        return layout


@dataclass
class _Event:
    """A transient to inject: its model, truth row, sample span and (optionally) its block."""

    model: Model
    row: TruthRow
    start: int
    stop: int
    block: PulseBlock | None = None


@dataclass
class SimulationResult:
    """What :func:`simulate_observation` wrote: paths, the truth rows and candidate rows."""

    out_dir: Path
    fil_path: Path
    truth_path: Path
    candidates_path: Path
    mask_path: Path
    layout: Layout
    bandpass: Bandpass
    truth: list[TruthRow] = field(default_factory=list)
    candidates: list[CandidateRow] = field(default_factory=list)


def _count(rate_per_min: float, minutes: float) -> int:
    return int(round(rate_per_min * minutes))


def _free_time(rng: np.random.Generator, latest: float, taken: list[float]) -> float:
    """A burst time (s) in ``[EDGE_MARGIN_S, latest]`` more than 0.5 s from every time in
    ``taken`` (up to 30 tries; the last one otherwise), appended to ``taken``."""
    t = float(rng.uniform(EDGE_MARGIN_S, latest))
    for _ in range(30):
        if all(abs(t - u) > 0.5 for u in taken):
            break
        t = float(rng.uniform(EDGE_MARGIN_S, latest))
    taken.append(t)
    return t


class _Planner:
    """Draws the scene and fills truth rows and detections."""

    def __init__(self, cfg: SimulationConfig, layout: Layout, rng: np.random.Generator,
                 search_rng: np.random.Generator) -> None:
        self.cfg, self.layout, self.rng = cfg, layout, rng
        self.rows: list[TruthRow] = []
        self.events: list[_Event] = []
        self.persistent: list[PersistentChannel] = []
        self.detections: list[tuple[int, int, object]] = []  # (truth id, label, Detection)
        self.cached_bytes = 0
        self.search_rng = search_rng

    def row(self, kind: str, **kw: object) -> TruthRow:
        r = TruthRow(id=len(self.rows), kind=kind, **kw)  # type: ignore[arg-type]
        self.rows.append(r)
        return r

    # --- instrument -------------------------------------------------------------------
    def instrument(self) -> Bandpass:
        lay, rng, cfg = self.layout, self.rng, self.cfg
        bp = make_bandpass(lay.freqs, rng)
        self.row("bandpass", freq_lo_mhz=lay.f_bottom, freq_hi_mhz=lay.f_top, chan_lo=0,
                 chan_hi=lay.nchan - 1, level=float(bp.params["level"]),
                 params={**bp.params, "mean_min": float(bp.mean.min()),
                         "mean_max": float(bp.mean.max()), "sigma_min": float(bp.sigma.min()),
                         "sigma_max": float(bp.sigma.max())})
        for lo, hi in choose_dead_channels(lay.nchan, cfg.dead_fraction, rng):
            bp.dead[lo:hi + 1] = True
            self.row("dead_channels", chan_lo=lo, chan_hi=hi,
                     freq_lo_mhz=float(lay.freqs[hi] - lay.chan_bw / 2),
                     freq_hi_mhz=float(lay.freqs[lo] + lay.chan_bw / 2))
        for _ in range(_count(cfg.n_persistent, cfg.rfi_rate)):
            p = draw_persistent(rng, lay, bp.headroom)
            self.persistent.append(p)
            self.row("rfi_persistent_channel", chan_lo=p.chan_lo, chan_hi=p.chan_hi,
                     freq_lo_mhz=float(lay.freqs[p.chan_hi] - lay.chan_bw / 2),
                     freq_hi_mhz=float(lay.freqs[p.chan_lo] + lay.chan_bw / 2),
                     spec_centre_mhz=p.freq_mhz, level=p.level,
                     params={"mod": p.mod, "period_s": p.period_s, "phase_rad": p.phase,
                             "noise_gain": p.noise_gain})
        self.bandpass = bp
        self.masked = bp.dead.copy()
        for p in self.persistent:
            self.masked[p.chan_lo:p.chan_hi + 1] = True
        self.live = ~self.masked
        self.peak_cap = float(np.median(bp.headroom))
        return bp

    def burst_dm_range(self) -> tuple[float, float]:
        cap = self.layout.max_fitting_dm()
        lo, hi = self.cfg.dm_range
        if hi > cap:
            log.info("burst DMs capped at %.0f: a larger sweep does not fit in %.1f s",
                        cap, self.layout.duration)
            hi = cap
        if lo > hi:
            lo = hi / 4
        return lo, hi

    # --- transients --------------------------------------------------------------------
    def _render_scaled(self, model: Model, dm: float, target: float,
                       max_peak: float = np.inf) -> tuple[PulseBlock, float, int, int]:
        """Render with unit fluence, scale the fluence to reach ``target`` S/N at ``dm``
        (but keep the brightest value <= ``max_peak`` sigma); returns (scaled block, S/N with
        saturation, matched width, centre sample)."""
        model.fluence = 1.0
        block = model.render(self.layout, self.live)
        snr1, _, _ = expected_snr(block, self.layout, dm, self.live)
        scale = target / snr1 if snr1 > 0 else 0.0
        peak1 = float(block.data.max()) if block.data.size else 0.0
        if peak1 > 0:
            scale = min(scale, max_peak / peak1)
        model.fluence = scale
        block.data *= np.float32(scale)
        snr, width, centre = expected_snr(capped(block, self.bandpass.headroom), self.layout,
                                          dm, self.live)
        return block, snr, width, centre

    def _keep(self, model: Model, row: TruthRow, block: PulseBlock) -> _Event:
        ev = _Event(model, row, block.start, block.stop)
        nbytes = block.data.nbytes
        if self.cached_bytes + nbytes <= _CACHE_BYTES:
            ev.block = block
            self.cached_bytes += nbytes
        self.events.append(ev)
        return ev

    def _flu_jy_ms(self, fluence: float) -> float:
        lay = self.layout
        sigma_jy = self.cfg.sefd_jy / np.sqrt(2 * lay.chan_bw * 1e6 * lay.tsamp)
        return float(fluence * sigma_jy * lay.tsamp * 1e3)

    def bursts(self, search: SearchEmulator, dm_lo: float, dm_hi: float) -> None:
        lay, rng, cfg = self.layout, self.rng, self.cfg
        n = cfg.n_bursts if cfg.n_bursts is not None else max(1, _count(cfg.burst_rate,
                                                                         cfg.minutes))
        times: list[float] = []
        for _ in range(n):
            dm = _loguniform(rng, dm_lo, dm_hi) if dm_lo > 0 else float(rng.uniform(0, dm_hi))
            latest = max(lay.duration - EDGE_MARGIN_S - lay.sweep(dm), EDGE_MARGIN_S)
            t = _free_time(rng, latest, times)
            b = draw_burst(rng, lay, t, dm)
            target = _loguniform(rng, *cfg.snr_range) if cfg.snr_range[0] < cfg.snr_range[1] \
                else cfg.snr_range[0]
            self._add_burst(search, b, target)

    def _add_burst(self, search: SearchEmulator, b: Burst, target: float,
                   family: str | None = None) -> None:
        """Scale ``b`` to ``target`` S/N, record it (with its ``family`` when not a standard
        burst), keep it for writing and report its detection."""
        lay = self.layout
        block, snr, width, _ = self._render_scaled(b, b.dm, target)
        params: dict[str, object] = {"target_snr": target, "scatter_ref_mhz": REF_FREQ_MHZ,
                                     "scatter_index": -4.0, "seed": b.seed}
        if family is not None:
            params["family"] = family
        if b.n_sub > 1:
            params.update(n_sub=b.n_sub, sub_gap_s=b.sub_gap_s, sub_drift_mhz=b.sub_drift_mhz,
                          sub_amps=list(b.sub_amps))
        row = self.row(
            "burst", time_s=b.time_s, dm=b.dm, width_s=b.width_s, width_samples=width,
            snr=snr, fluence=b.fluence, fluence_jy_ms=self._flu_jy_ms(b.fluence),
            peak_sigma=float(block.data.max()) if block.data.size else 0.0,
            spectrum=b.spectrum, spec_index=b.spec_index, spec_running=b.spec_running,
            spec_centre_mhz=b.spec_centre_mhz if b.spectrum == "gaussian" else None,
            spec_fwhm_mhz=b.spec_fwhm_mhz if b.spectrum == "gaussian" else None,
            scint_bw_mhz=b.scint_bw_mhz, scint_mod=b.scint_mod,
            scatter_ms=b.scatter_s * 1e3, freq_lo_mhz=lay.f_bottom, freq_hi_mhz=lay.f_top,
            params=params)
        self._keep(b, row, block)
        search.traces.append(Trace.from_truth(row, lay.tsamp))
        det = search.burst(block, b.dm, width * lay.tsamp)
        self.detections.append((row.id, 1, det))

    def _family_count(self) -> int:
        return max(1, _count(self.cfg.family_rate, self.cfg.minutes)) if self.cfg.family_rate \
            else 0

    def family_bursts(self, search: SearchEmulator, rng: np.random.Generator, dm_lo: float,
                      dm_hi: float) -> None:
        """The burst families of ``cfg.families`` (:func:`draw_family_burst`), from ``rng``."""
        lay, cfg = self.layout, self.cfg
        taken = [float(r.time_s) for r in self.rows if r.kind == "burst"]
        for family in (f for f in cfg.families if f in BURST_FAMILIES):
            for _ in range(self._family_count()):
                lo, hi = LOW_DM_RANGE if family == "low_dm" else (dm_lo, dm_hi)
                dm = _loguniform(rng, max(lo, 1e-3), max(hi, lo, 1e-3))
                latest = max(lay.duration - EDGE_MARGIN_S - lay.sweep(dm) - 0.2, EDGE_MARGIN_S)
                t = _free_time(rng, latest, taken)
                b = draw_family_burst(rng, lay, family, t, dm)
                if family == "faint":
                    target = cfg.threshold + float(rng.uniform(0.0, FAINT_EXCESS))
                else:
                    target = _loguniform(rng, *cfg.snr_range) \
                        if cfg.snr_range[0] < cfg.snr_range[1] else cfg.snr_range[0]
                self._add_burst(search, b, target, family)

    def family_rfi(self, search: SearchEmulator, rng: np.random.Generator, dm_lo: float,
                   dm_hi: float) -> None:
        """The interference families of ``cfg.families`` (:data:`FAMILY_RFI`), from ``rng``:
        each scaled to its target S/N at the DM trial of the search that best aligns it."""
        lay, cfg = self.layout, self.cfg
        laws = {fam: law for law, fam in SWEEP_FAMILIES.items()}
        for family in (f for f in cfg.families if f in FAMILY_RFI):
            for _ in range(self._family_count()):
                target = _loguniform(rng, *FAMILY_RFI_SNR)
                ev: SweepRFI | IntermittentCarrier
                if family == "intermittent":
                    ev = draw_intermittent(rng, lay, 0.0)
                    t0 = float(rng.uniform(0.1, max(lay.duration - 0.1 - ev.duration_s, 0.2)))
                    ev.time_s, ev.starts_s = t0, tuple(t0 + x for x in ev.starts_s)
                    dm = 0.0
                else:
                    lo, hi = REVERSED_DM_RANGE if family == "chirp_reversed" else (dm_lo, dm_hi)
                    ev = draw_sweep(rng, lay, laws[family], _loguniform(rng, lo, max(hi, lo)))
                    span = abs(ev.sweep_s)
                    t0 = float(rng.uniform(EDGE_MARGIN_S, max(lay.duration - EDGE_MARGIN_S - span,
                                                              EDGE_MARGIN_S + 1e-3)))
                    ev.time_s = t0 + (span if ev.sweep_s < 0 else 0.0)
                    ev.fluence = 1.0
                    dm = search.best_dm(ev.render(lay, self.live))
                block, snr, width, centre = self._render_scaled(ev, dm, target,
                                                                2 * self.peak_cap)
                f_lo, f_hi = ev.freq_range
                # where the matched boxcar at search_dm sits (top-of-band time, s)
                params: dict[str, object] = {"target_snr": target, "family": family,
                                             "seed": ev.seed, "search_dm": dm,
                                             "search_time_s": centre * lay.tsamp}
                if isinstance(ev, SweepRFI):
                    params.update(law=ev.law, index=ev.index, sweep_s=ev.sweep_s,
                                  dm_like=ev.dm_like, break_mhz=ev.break_mhz,
                                  spec_ripple=ev.spec_ripple)
                    width_s, duration = ev.width_s, abs(ev.sweep_s)
                else:
                    params.update(starts_s=list(ev.starts_s), durations_s=list(ev.durations_s))
                    width_s, duration = float(max(ev.durations_s)), ev.duration_s
                row = self.row(
                    ev.kind, time_s=ev.time_s, dm=0.0, width_s=width_s, width_samples=width,
                    snr=snr, fluence=ev.fluence,
                    peak_sigma=float(block.data.max()) if block.data.size else 0.0,
                    spectrum="flat", spec_centre_mhz=0.5 * (f_lo + f_hi),
                    spec_fwhm_mhz=f_hi - f_lo, freq_lo_mhz=max(f_lo, lay.f_bottom),
                    freq_hi_mhz=min(f_hi, lay.f_top),
                    chan_lo=lay.chan_of(min(f_hi, lay.f_top - 1e-9)),
                    chan_hi=lay.chan_of(max(f_lo, lay.f_bottom + 1e-9)),
                    duration_s=duration, params=params)
                self._keep(ev, row, block)
                for det in search.rfi(block):
                    self.detections.append((row.id, 0, det))

    def rfi(self, search: SearchEmulator) -> None:
        lay, rng, cfg = self.layout, self.rng, self.cfg
        kinds = ((draw_impulse, cfg.impulse_rate, (8.0, 300.0)),
                 (draw_narrowband, cfg.narrowband_rate, (8.0, 60.0)),
                 (draw_drift, cfg.drift_rate, (8.0, 50.0)))
        for draw, rate, (s_lo, s_hi) in kinds:
            for _ in range(_count(rate * cfg.rfi_rate, cfg.minutes)):
                t = float(rng.uniform(0.1, lay.duration - 0.1))
                target = _loguniform(rng, s_lo, s_hi)
                # RFI may saturate, but not by absurd factors (peak <= twice the headroom); a
                # narrow one that cannot reach its target S/N that way is redrawn (<= 8 times)
                best = None
                for _ in range(8):
                    ev = draw(rng, lay, t)
                    got = self._render_scaled(ev, 0.0, target, 2 * self.peak_cap)
                    if best is None or got[1] > best[1][1]:
                        best = (ev, got)
                    if got[1] >= 0.8 * target:
                        break
                assert best is not None
                ev, (block, snr, width, _) = best
                f_lo, f_hi = ev.freq_range
                row = self.row(
                    ev.kind, time_s=ev.time_s, dm=0.0, width_s=ev.width_s if ev.kind != "rfi_drift"
                    else ev.line_mhz / abs(ev.drift_mhz_s),
                    width_samples=width, snr=snr, fluence=ev.fluence,
                    peak_sigma=float(block.data.max()) if block.data.size else 0.0,
                    spectrum="flat", spec_centre_mhz=ev.spec_centre_mhz,
                    spec_fwhm_mhz=ev.spec_fwhm_mhz, freq_lo_mhz=max(f_lo, lay.f_bottom),
                    freq_hi_mhz=min(f_hi, lay.f_top),
                    chan_lo=lay.chan_of(min(f_hi, lay.f_top - 1e-9)),
                    chan_hi=lay.chan_of(max(f_lo, lay.f_bottom + 1e-9)),
                    duration_s=ev.duration_s if ev.kind == "rfi_drift" else None,
                    drift_mhz_s=ev.drift_mhz_s if ev.kind == "rfi_drift" else None,
                    params={"target_snr": target, "spec_ripple": ev.spec_ripple,
                            "line_mhz": ev.line_mhz, "seed": ev.seed})
                self._keep(ev, row, block)
                for det in search.rfi(block):
                    self.detections.append((row.id, 0, det))

    def noise(self, search: SearchEmulator) -> None:
        for det in search.noise(_count(self.cfg.noise_rate, self.cfg.minutes)):
            row = self.row("noise_candidate", time_s=det.stime, dm=det.dm,
                           width_samples=det.width, snr=det.snr)
            self.detections.append((row.id, 0, det))


def _write_filterbank(path: Path, layout: Layout, bandpass: Bandpass, events: list[_Event],
                      persistent: list[PersistentChannel], live: NDArray[np.bool_],
                      rng: np.random.Generator, progress: bool) -> None:
    """Write header and data of ``path`` chunk by chunk (``(ntime, nchan)`` uint8 spectra)."""
    from your.formats.filwriter import make_sigproc_object
    from your.formats.pysigproc import SigprocFile

    sig = make_sigproc_object(rawdatafile=_RAWDATAFILE, source_name="FRBTRIAGE_SIM",
                              nchans=layout.nchan, foff=layout.foff, fch1=layout.fch1,
                              tsamp=layout.tsamp, tstart=TSTART_MJD, nbits=8, nbeams=1, ibeam=0)
    sig.write_header(str(path))
    chunk = max(64, 2**22 // layout.nchan)
    order = sorted(range(len(events)), key=lambda i: events[i].start)
    nxt = 0
    active: list[_Event] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=layout.nsamp, unit="sample", unit_scale=True, desc="simulate")
    for s in range(0, layout.nsamp, chunk):
        e = min(s + chunk, layout.nsamp)
        while nxt < len(order) and events[order[nxt]].start < e:
            active.append(events[order[nxt]])
            nxt += 1
        buf = noise_chunk(rng, e - s, layout.nchan)
        for p in persistent:
            p.apply(buf, s, layout.tsamp)
        view = buf.T
        still = []
        for ev in active:
            if ev.stop <= s:
                continue
            if ev.block is None:
                ev.block = ev.model.render(layout, live)
            inject_block(view, ev.block, start=s)
            if ev.stop > e:
                still.append(ev)
            else:
                ev.block = None
        active = still
        SigprocFile.append_spectra(quantise(buf, bandpass), str(path))
        if bar is not None:
            bar.update(e - s)
    if bar is not None:
        bar.close()


def simulate_observation(out_dir: str | os.PathLike[str], minutes: float = 0.5,
                         nchan: int | None = None, seed: int = 0, progress: bool = False,
                         **options: object) -> SimulationResult:
    """Simulate a CHIME-like observation into ``out_dir`` (created if missing); ``nchan``
    None: the telescope's own count (1024 for CHIME).

    ``options`` are the other :class:`SimulationConfig` fields (``n_bursts``, ``snr_range``,
    ``dm_range``, ``rfi_rate``, ``noise_rate``, ``dead_fraction``, ``threshold``,
    ``telescope`` (another telescope's band, channels and sample time), ...).
    Existing ``obs.fil``, ``obs.bad_chans``, ``truth.csv``, ``candidates.csv`` are replaced.
    Raises :class:`InputError` for impossible parameters or an unusable ``out_dir``.
    """
    out = Path(out_dir)
    try:
        cfg = SimulationConfig(minutes=float(minutes),
                               nchan=None if nchan is None else int(nchan), seed=int(seed),
                               **options)  # type: ignore[arg-type]
    except TypeError as err:
        raise InputError(out, f"unknown simulation option: {err}") from None
    layout = cfg.validate(out)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(out, f"cannot create the output folder ({err.strerror})") from None

    scene_ss, noise_ss, search_ss = np.random.SeedSequence(cfg.seed).spawn(3)
    plan = _Planner(cfg, layout, np.random.default_rng(scene_ss), np.random.default_rng(search_ss))
    bandpass = plan.instrument()
    dm_lo, dm_hi = plan.burst_dm_range()
    search = SearchEmulator(layout, plan.live, bandpass.headroom, dm_max=max(dm_hi, 10.0),
                            threshold=cfg.threshold, rng=plan.search_rng,
                            clean_negatives=cfg.clean_negatives)
    plan.bursts(search, dm_lo, dm_hi)
    family_rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(4)[3])
    if cfg.families:
        plan.family_bursts(search, family_rng, dm_lo, dm_hi)
    plan.rfi(search)
    if cfg.families:
        plan.family_rfi(search, family_rng, dm_lo, dm_hi)
    plan.noise(search)
    log.info("planned %d injections, %d candidates (%d RFI and %d noise candidates dropped: "
             "their images would hold a burst); writing %s", len(plan.events),
             len(plan.detections), search.dropped["rfi"], search.dropped["noise"],
             out / FIL_NAME)

    fil_path, mask_path = out / FIL_NAME, out / MASK_NAME
    with replacing(fil_path) as tmp:
        _write_filterbank(tmp, layout, bandpass, plan.events, plan.persistent, plan.live,
                          np.random.default_rng(noise_ss), progress)
    with replacing(mask_path) as tmp:
        np.savetxt(tmp, np.flatnonzero(plan.masked), fmt="%d")

    dets = sorted(plan.detections, key=lambda x: (x[2].stime, x[2].dm))  # type: ignore[attr-defined]
    cands: list[CandidateRow] = []
    for i, (rid, label, det) in enumerate(dets):
        cands.append(candidate_row(det, label, FIL_NAME, MASK_NAME))  # type: ignore[arg-type]
        plan.rows[rid].candidate_rows.append(i)
    write_truth_csv(out / TRUTH_NAME, plan.rows)
    write_candidates_csv(out / CANDS_NAME, cands)
    return SimulationResult(out_dir=out, fil_path=fil_path, truth_path=out / TRUTH_NAME,
                            candidates_path=out / CANDS_NAME, mask_path=mask_path,
                            layout=layout, bandpass=bandpass, truth=plan.rows, candidates=cands)
