"""``truth.csv`` (every injection) and ``candidates.csv`` (your/FETCH candmaker format).

``truth.csv`` columns (empty where a column does not apply to a kind):

=================  ==========================================================================
id                 row number
kind               burst, rfi_impulse, rfi_narrowband_burst, rfi_drift,
                   rfi_persistent_channel, dead_channels, bandpass, noise_candidate; with
                   ``families`` also rfi_sweep, rfi_intermittent (their family, and a burst's
                   when it is not a standard one, in ``params["family"]``: :func:`family_of`)
time_s             arrival time at the top channel centre, s from file start (burst); peak
                   time (impulse, narrowband); time the line is at ``spec_centre_mhz`` (drift)
dm                 pc cm^-3 (0 for RFI)
width_s            intrinsic FWHM, s (drift: time the line takes to cross its own width)
width_samples      width of the best matched boxcar at ``dm``, samples
snr                expected S/N at ``dm`` (see frbtriage.simulate.search), noise-free
fluence            mean injected fluence per channel, noise-sigma x samples
fluence_jy_ms      the same in Jy ms for an SEFD of ``sefd_jy`` (radiometer equation)
peak_sigma         largest injected value in one channel and sample, noise sigmas
spectrum           gaussian / powerlaw / running_powerlaw (bursts); flat (RFI)
spec_index, spec_running, spec_centre_mhz, spec_fwhm_mhz   spectral shape parameters
scint_bw_mhz       scintillation bandwidth at 600 MHz (0 = none), scint_mod its modulation index
scatter_ms         scattering time at 600 MHz, ms (scales as f^-4)
freq_lo_mhz, freq_hi_mhz, chan_lo, chan_hi   frequency / channel extent (file channel order)
duration_s         drift duration; drift_mhz_s its rate
level              persistent channel power offset, noise sigmas
candidate_rows     ";"-separated 0-based rows of candidates.csv that report this injection
params             JSON with the remaining model parameters
=================  ==========================================================================
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from frbtriage.physics import sweep_seconds
from frbtriage.safe_write import replacing
from frbtriage.simulate.search import Detection

FETCH_COLUMNS = ("file", "snr", "stime", "width", "dm", "label", "chan_mask_path", "num_files")


@dataclass
class TruthRow:
    """One row of ``truth.csv`` (see the module doc for the columns)."""

    id: int
    kind: str
    time_s: float | None = None
    dm: float | None = None
    width_s: float | None = None
    width_samples: int | None = None
    snr: float | None = None
    fluence: float | None = None
    fluence_jy_ms: float | None = None
    peak_sigma: float | None = None
    spectrum: str | None = None
    spec_index: float | None = None
    spec_running: float | None = None
    spec_centre_mhz: float | None = None
    spec_fwhm_mhz: float | None = None
    scint_bw_mhz: float | None = None
    scint_mod: float | None = None
    scatter_ms: float | None = None
    freq_lo_mhz: float | None = None
    freq_hi_mhz: float | None = None
    chan_lo: int | None = None
    chan_hi: int | None = None
    duration_s: float | None = None
    drift_mhz_s: float | None = None
    level: float | None = None
    candidate_rows: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


def family_of(row: TruthRow) -> str:
    """The family of an injection: ``params["family"]`` where the simulator recorded one (a
    burst morphology or an interference family, ``SimulationConfig.families``), else its
    ``kind`` (``burst`` for a standard burst)."""
    return str(row.params.get("family", row.kind))


TRUTH_COLUMNS = tuple(f.name for f in fields(TruthRow))
_INT_COLUMNS = {"id", "width_samples", "chan_lo", "chan_hi"}
_STR_COLUMNS = {"kind", "spectrum"}


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e5 else f"{value:.10g}"
    return str(value)


def _rounded(params: dict[str, Any]) -> dict[str, Any]:
    """Floats to 10 significant digits: the last bits of a derived value (e.g. a target
    S/N from a float32 sum) differ between CPUs and thread counts, the file must not."""
    return {k: float(f"{v:.10g}") if isinstance(v, float) else v for k, v in params.items()}


def write_truth_csv(path: str | os.PathLike[str], rows: list[TruthRow]) -> None:
    """Write ``rows`` to ``path`` (via a temporary file and a rename)."""
    with replacing(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(TRUTH_COLUMNS)
        for row in rows:
            d = asdict(row)
            d["candidate_rows"] = ";".join(str(i) for i in row.candidate_rows)
            d["params"] = json.dumps(_rounded(row.params), sort_keys=True) if row.params else ""
            if isinstance(d["time_s"], float):
                d["time_s"] = f"{row.time_s:.6f}"
            w.writerow([_fmt(d[c]) if c not in ("candidate_rows", "params") else d[c]
                        for c in TRUTH_COLUMNS])


def read_truth_csv(path: str | os.PathLike[str]) -> list[TruthRow]:
    """Read a ``truth.csv`` written by :func:`write_truth_csv`."""
    out = []
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            kw: dict[str, Any] = {}
            for c in TRUTH_COLUMNS:
                v = rec.get(c, "")
                if c == "candidate_rows":
                    kw[c] = [int(x) for x in v.split(";") if x]
                elif c == "params":
                    kw[c] = json.loads(v) if v else {}
                elif v == "":
                    kw[c] = None
                elif c in _STR_COLUMNS:
                    kw[c] = v
                elif c in _INT_COLUMNS:
                    kw[c] = int(v)
                else:
                    kw[c] = float(v)
            out.append(TruthRow(**kw))
    return out


@dataclass
class CandidateRow:
    """One row of the your/FETCH candmaker CSV (``width`` = log2 of samples)."""

    file: str
    snr: float
    stime: float
    width: int
    dm: float
    label: int
    chan_mask_path: str
    num_files: int = 1


def candidate_row(det: Detection, label: int, fil_name: str, mask_name: str) -> CandidateRow:
    """The FETCH row for a search detection."""
    return CandidateRow(file=fil_name, snr=det.snr, stime=det.stime,
                        width=int(round(math.log2(max(det.width, 1)))),
                        dm=det.dm, label=int(label), chan_mask_path=mask_name)


def write_candidates_csv(path: str | os.PathLike[str], rows: list[CandidateRow]) -> None:
    """Write the your/FETCH candmaker CSV (columns :data:`FETCH_COLUMNS`)."""
    with replacing(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FETCH_COLUMNS)
        for r in rows:
            w.writerow([r.file, f"{r.snr:.4f}", f"{r.stime:.6f}", r.width, f"{r.dm:.4f}",
                        r.label, r.chan_mask_path, r.num_files])


def burst_matches(row: TruthRow, tcand: float, dm: float, width: int, tsamp: float,
                  dm_tol: float = 0.05, widths: float = 2.0) -> bool:
    """Whether a candidate (``tcand`` s, ``dm`` pc cm^-3, ``width`` samples) recovers burst
    ``row``: within ``dm_tol`` (fractional) in DM and ``widths`` times the wider of the two
    boxcars in time (the recovery criterion of the search issue)."""
    if row.kind != "burst" or row.time_s is None or row.dm is None:
        return False
    w = max(int(row.width_samples or 1), int(width))
    return abs(dm - row.dm) <= dm_tol * row.dm and abs(tcand - row.time_s) <= widths * w * tsamp


def match_truth(rows: list[TruthRow], tcand: float, dm: float, width: int,
                tsamp: float) -> TruthRow | None:
    """The injection a candidate most likely comes from, or None (a noise/false candidate).

    Bursts match by :func:`burst_matches`; otherwise the nearest transient RFI injection
    (impulse, narrowband burst, drift) whose time lies within the candidate's dispersion
    sweep plus two boxcar widths matches, since a search reports RFI at whatever DM its
    energy best fits.
    """
    for row in rows:
        if burst_matches(row, tcand, dm, width, tsamp):
            return row
    best, best_dt = None, math.inf
    for row in rows:
        if not row.kind.startswith("rfi_") or row.time_s is None:
            continue
        lo = row.freq_lo_mhz if row.freq_lo_mhz is not None else 400.0
        hi = row.freq_hi_mhz if row.freq_hi_mhz is not None else 800.0
        slack = 2 * max(1, int(width)) * tsamp + (row.duration_s or 0.0) + (row.width_s or 0.0)
        sweep = sweep_seconds(dm, lo, hi)
        dt = abs(tcand - row.time_s)
        if dt <= sweep + slack and dt < best_dt:
            best, best_dt = row, dt
    return best
