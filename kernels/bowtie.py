"""The DM-time "bowtie": dedispersed time series over a range of DM trials, only where kept.

A FETCH ``dmt`` image is 256 DM trials from 0 to 2·DM x 256 time samples, time-decimated
by ``width // 2`` and centred on the burst. ``your`` dedisperses the whole chunk at every
trial and then decimates and crops; :func:`dm_time` computes only the ``nout`` output
samples that are kept: ``nout * decim`` input samples per DM and channel instead of the
whole chunk. It runs the tiled frequency-major sum of :mod:`.dedisperse` over the kept
window (time tiles x DM groups as parallel tasks, so even a 256-sample window keeps both
cores busy), then takes the mean over each run of ``decim`` samples.

Delays are integer samples relative to the top of the band, computed by the caller
(``frbtriage.physics.delay_samples``), one row per DM trial.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .dedisperse import _sweep_sums, as_delays, as_float32_2d
from .spectra import _decimate_time

__all__ = ["dm_time"]


#: Largest time tile (samples) and the number of parallel tasks dm_time aims for.
_TBLOCK = 1024
_CBLOCK = 64
_TASKS = 4


def _tiles(ndm: int, length: int) -> tuple[int, int]:
    """(time block, DM block) giving about ``_TASKS`` parallel tasks of cache-sized tiles."""
    tblock = min(_TBLOCK, length)
    ntiles = -(-length // tblock)
    groups = max(1, -(-_TASKS // ntiles))
    return tblock, max(1, -(-ndm // groups))


def dm_time(
    data: ArrayLike, delays: ArrayLike, start: int, nout: int, decim: int = 1
) -> NDArray[np.float32]:
    """DM-time image over the kept window only.

    ``data`` ``(nchan, ntime)`` intensities (any real dtype; converted to float32);
    ``delays`` ``(ndm, nchan)`` integer delays in samples, one row per DM trial (``>= 0`` by
    the project convention; any value is accepted as long as every index stays inside);
    ``start`` the first input sample (at the top of the band) of the kept window; ``nout``
    output samples per DM trial; ``decim`` the time decimation factor (mean of ``decim``
    consecutive dedispersed samples). Returns ``(ndm, nout)`` float32 with
    ``out[d, j] = mean_{k < decim} sum_c data[c, start + j*decim + k + delays[d, c]]``
    (sum over channels, mean over the decimated samples; same units as the data).

    Raises ``ValueError`` if any needed index falls outside ``[0, ntime)``: the caller must
    read ``start + nout*decim + max(delays)`` samples.
    """
    arr = as_float32_2d(data)
    dl = as_delays(delays, arr.shape[0], 2)
    start, nout, decim = int(start), int(nout), int(decim)
    if nout < 1 or decim < 1:
        raise ValueError(f"nout and decim must be >= 1, got nout={nout}, decim={decim}")
    ntime = arr.shape[1]
    first = start + int(dl.min())
    last = start + nout * decim - 1 + int(dl.max())
    if first < 0:
        raise ValueError(
            f"dm_time window starts at sample {first} (start={start} + min delay "
            f"{int(dl.min())}), before the data; read earlier data or raise start"
        )
    if last >= ntime:
        raise ValueError(
            f"dm_time needs samples up to {last} (start={start} + nout*decim={nout * decim} "
            f"+ max delay {int(dl.max())} - 1) but the data has only {ntime}; read a longer window"
        )
    length = nout * decim
    tblock, dblock = _tiles(dl.shape[0], length)
    full = _sweep_sums(arr, dl, start, length, tblock, _CBLOCK, dblock)
    if decim == 1:
        return full
    return _decimate_time(full, decim, nout)
