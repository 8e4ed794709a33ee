"""CHIME/FRB catalogue waterfalls (``*_waterfall.h5``) as already-dedispersed candidates.

A catalogue file holds group ``frb`` with ``wfall`` ``(nfreq, ntime)`` (16384 channels,
already dedispersed at the catalogue DM, NaN in masked channels), ``plot_freq`` ``(nfreq,)``
MHz, ``plot_time`` ``(ntime,)`` s, ``extent``, the DM as attribute (or dataset) ``dm``, and
``model_wfall`` / ``calibrated_wfall`` (not used here), as cfod's ``Waterfaller`` reads them.

The ``ft`` image is built from ``wfall`` alone: rows ordered highest frequency first,
channels resized to 256 by the area mean over the finite channels only (an output row with
no finite channel is *masked*), 256 samples centred on the peak of the band-averaged time
series (edges beyond the waterfall are masked too), normalised over the unmasked pixels, and
masked pixels set to 0 (the normalised median), never filled with invented noise.

There is no ``dmt`` image: the catalogue stores no un-dedispersed data. The workspace keeps
a ``dmt`` row for every candidate, so an all-zero one is stored and the candidate's
``origin`` says ``;dmt=none`` (see :data:`DMT_NONE`). **Scoring**: the ensemble CNN eats
``ft`` and ``dmt`` together, and a flat ``dmt`` reads as "no bow-tie", which pulls p(astro)
down, so scores of these candidates are not comparable with others. Until the workspace has a
``dmt_available`` column and the model an ft-only branch (train members with the dmt input
dropped; route ``dmt_available = false`` candidates to them), treat their scores as ft-only
evidence: exclude them from calibration/evaluation sets and from uncertainty-driven queues.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from frbtriage.conventions import IMAGE_SIZE
from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate

if TYPE_CHECKING:
    import h5py

#: Marks a candidate stored without a real DM-time image (until the schema has a column).
DMT_NONE = "dmt=none"


@dataclass
class Waterfall:
    """One catalogue waterfall as a candidate: ``ft`` (256, 256), which pixels are masked,
    and the image's axes: ``f_hi_mhz`` / ``f_lo_mhz`` the band edges its rows cover (from
    ``plot_freq``), ``pixel_s`` the spacing of ``plot_time``."""

    candidate: Candidate
    ft: NDArray[np.float32]
    masked: NDArray[np.bool_]
    f_hi_mhz: float
    f_lo_mhz: float
    pixel_s: float


def _dm(path: str, group: h5py.Group) -> float:
    """The catalogue DM, from attribute or dataset ``dm``."""
    if "dm" in group.attrs:
        value = group.attrs["dm"]
    elif "dm" in group:
        value = group["dm"][()]
    else:
        raise InputError(path, "CHIME waterfall has no 'dm' attribute or dataset in group 'frb'")
    dm = float(np.asarray(value).reshape(-1)[0])
    if not (np.isfinite(dm) and dm > 0):
        raise InputError(path, f"CHIME waterfall DM {dm!r} is not a positive number")
    return dm


def read_chime_waterfall(path: str | os.PathLike[str]) -> Waterfall:
    """Read a catalogue waterfall file and make its ``ft`` image (see module doc).
    :class:`InputError` for a file that is not one (no ``frb/wfall``, shapes that disagree,
    no finite channel, no DM)."""
    import h5py

    p = os.fspath(path)
    try:
        with h5py.File(p, "r") as fh:
            if "frb" not in fh or "wfall" not in fh["frb"]:
                raise InputError(p, "not a CHIME/FRB catalogue waterfall (no group frb with "
                                    "dataset wfall)")
            g = fh["frb"]
            wfall = np.asarray(g["wfall"][()], dtype=np.float64)
            freq = np.asarray(g["plot_freq"][()], dtype=np.float64) if "plot_freq" in g else None
            time = np.asarray(g["plot_time"][()], dtype=np.float64) if "plot_time" in g else None
            dm = _dm(p, g)
            name = g.attrs.get("tns_name", b"")
    except OSError as err:
        raise InputError(p, f"cannot read as HDF5: {err}") from None
    if wfall.ndim != 2 or min(wfall.shape) < 2:
        raise InputError(p, f"CHIME waterfall wfall has shape {wfall.shape}, expected "
                            "(nfreq, ntime)")
    nfreq, ntime = wfall.shape
    if freq is None or freq.shape != (nfreq,) or time is None or time.shape != (ntime,):
        raise InputError(p, f"CHIME waterfall plot_freq/plot_time do not match wfall "
                            f"{wfall.shape}")
    if freq[0] < freq[-1]:  # ascending: row 0 must be the highest frequency
        wfall = wfall[::-1]
    ft, masked, peak = waterfall_image(wfall)
    if masked.all():
        raise InputError(p, "CHIME waterfall has no finite channel")
    label = name.decode() if isinstance(name, bytes) else str(name)
    cand = Candidate(file=os.path.abspath(p), tcand=float(time[peak]), dm=dm, width=1,
                     snr=_peak_snr(wfall), label=None,
                     origin=f"chime-waterfall:{os.path.abspath(p)}"
                            f"{';tns=' + label if label else ''};{DMT_NONE}")
    half = 0.5 * abs(float(freq[-1] - freq[0])) / max(nfreq - 1, 1)
    return Waterfall(candidate=cand, ft=ft, masked=masked,
                     f_hi_mhz=float(freq.max()) + half, f_lo_mhz=float(freq.min()) - half,
                     pixel_s=abs(float(time[-1] - time[0])) / max(ntime - 1, 1))


def _series(wfall: NDArray[np.float64]) -> NDArray[np.float64]:
    """Band-averaged time series over the finite channels (0 where none)."""
    good = np.isfinite(wfall)
    n = good.sum(axis=0)
    return np.where(good, wfall, 0.0).sum(axis=0) / np.maximum(n, 1)


def _peak_snr(wfall: NDArray[np.float64]) -> float:
    """Peak of the band-averaged series above its median in robust sigmas (MAD)."""
    ts = _series(wfall)
    med = float(np.median(ts))
    mad = 1.4826 * float(np.median(np.abs(ts - med)))
    return float((ts.max() - med) / mad) if mad > 0 else 0.0


def waterfall_image(wfall: NDArray[np.float64]
                    ) -> tuple[NDArray[np.float32], NDArray[np.bool_], int]:
    """``(ft, masked, peak)`` from a dedispersed waterfall ``(nfreq, ntime)`` (row 0 highest,
    NaN = masked): ``ft`` (256, 256) normalised, masked pixels 0; ``peak`` the column the
    image is centred on."""
    from frbtriage.kernels.spectra import resize_freq

    nfreq, ntime = wfall.shape
    good = np.isfinite(wfall)
    peak = int(np.argmax(_series(wfall)))
    lo = peak - IMAGE_SIZE // 2
    cols = np.arange(lo, lo + IMAGE_SIZE)
    inside = (cols >= 0) & (cols < ntime)
    data = np.zeros((nfreq, IMAGE_SIZE), dtype=np.float32)
    weight = np.zeros((nfreq, IMAGE_SIZE), dtype=np.float32)
    data[:, inside] = np.where(good, wfall, 0.0)[:, cols[inside]]
    weight[:, inside] = good[:, cols[inside]]
    wsum = resize_freq(weight, IMAGE_SIZE, "area")
    masked = wsum <= 1e-6
    img = resize_freq(data, IMAGE_SIZE, "area") / np.where(masked, 1.0, wsum)
    ft = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    if not masked.all():
        vals = img[~masked].astype(np.float64)
        std = vals.std()
        ft[~masked] = ((vals - np.median(vals)) / (std if std > 0 else 1.0)).astype(np.float32)
    return ft, masked, peak
