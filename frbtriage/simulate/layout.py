"""The simulated observation's frequency/time grid (CHIME by default: 400-800 MHz, 0.98304 ms;
other telescopes' in :mod:`frbtriage.simulate.telescopes`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from frbtriage.errors import InputError
from frbtriage.physics import (
    CHIME_FBOTTOM_MHZ,
    CHIME_FTOP_MHZ,
    CHIME_TSAMP_S,
    delay_samples,
    sweep_seconds,
)

#: CHIME's native channel count; the simulator writes it or any power-of-two downsampling.
CHIME_NATIVE_NCHAN = 16384
MIN_NCHAN = 16
#: Bursts keep this much of the file free before their top-of-band arrival and after the
#: bottom-of-band arrival (seconds), so that a search and FETCH windows see the whole sweep.
EDGE_MARGIN_S = 0.3


@dataclass(frozen=True)
class Layout:
    """Channels and samples of the file.

    ``nchan`` channels of ``(f_top - f_bottom) / nchan`` MHz from ``f_top`` down to
    ``f_bottom`` (MHz, CHIME's 800 and 400 by default; ``foff < 0``, ``fch1`` = centre of the
    top channel, channel 0 = highest frequency), ``nsamp`` samples of ``tsamp`` seconds.
    """

    nchan: int
    nsamp: int
    tsamp: float = CHIME_TSAMP_S
    f_top: float = CHIME_FTOP_MHZ
    f_bottom: float = CHIME_FBOTTOM_MHZ

    @property
    def foff(self) -> float:
        """Channel width in MHz, negative (frequency falls with channel index)."""
        return -(self.f_top - self.f_bottom) / self.nchan

    @property
    def chan_bw(self) -> float:
        """Channel width in MHz, positive."""
        return abs(self.foff)

    @property
    def fch1(self) -> float:
        """Centre frequency of channel 0 (the highest), MHz."""
        return self.f_top + self.foff / 2

    @cached_property
    def freqs(self) -> NDArray[np.float64]:
        """Channel centre frequencies, MHz, shape ``(nchan,)``, descending."""
        return self.fch1 + self.foff * np.arange(self.nchan)

    @property
    def duration(self) -> float:
        """File length in seconds."""
        return self.nsamp * self.tsamp

    def sweep(self, dm: float) -> float:
        """Dispersion sweep in seconds between the top and bottom channel centres."""
        return sweep_seconds(dm, float(self.freqs.min()), float(self.freqs.max()))

    def delays(self, dm: float) -> NDArray[np.int64]:
        """Integer sample delays per channel at ``dm`` (``frbtriage.physics.delay_samples``)."""
        return delay_samples(dm, self.freqs, self.tsamp)

    def max_fitting_dm(self, margin_s: float = EDGE_MARGIN_S) -> float:
        """Largest DM whose full sweep (plus ``margin_s`` at both ends) fits in the file."""
        usable = self.duration - 2 * margin_s
        return max(usable, 0.0) / self.sweep(1.0)

    def chan_of(self, freq_mhz: float) -> int:
        """Index of the channel containing ``freq_mhz`` (clipped to the band)."""
        return int(np.clip(np.floor((self.f_top - freq_mhz) / self.chan_bw), 0, self.nchan - 1))


def make_layout(minutes: float, nchan: int | None = None, path: object = None,
                telescope: str = "chime") -> Layout:
    """Validate the user's ``minutes`` and ``nchan`` and build the layout of ``telescope``
    (a name of :data:`frbtriage.simulate.telescopes.TELESCOPES`; its channel count when
    ``nchan`` is None).

    For CHIME ``nchan`` must be a power of two from 16 to 16384 (its native channels
    downsampled by an integer factor); for the others any count from 16 to 16384. The file
    must last at least one second. Raises :class:`InputError` naming ``path`` otherwise.
    """
    from frbtriage.simulate.telescopes import telescope as preset

    tel = preset(telescope, path)
    nchan = tel.nchan if nchan is None else nchan
    if not np.isfinite(minutes) or minutes <= 0:
        raise InputError(path, f"--minutes must be a positive number, got {minutes}")
    if tel.name == "chime":
        if nchan < MIN_NCHAN or nchan > CHIME_NATIVE_NCHAN or nchan & (nchan - 1):
            raise InputError(path, f"--nchan must be a power of two from {MIN_NCHAN} to "
                                   f"{CHIME_NATIVE_NCHAN} (CHIME's 16384 channels downsampled), "
                                   f"got {nchan}")
    elif not MIN_NCHAN <= nchan <= CHIME_NATIVE_NCHAN:
        raise InputError(path, f"--nchan must be from {MIN_NCHAN} to {CHIME_NATIVE_NCHAN}, "
                               f"got {nchan}")
    nsamp = int(round(minutes * 60.0 / tel.tsamp_s))
    if nsamp * tel.tsamp_s < 1.0:
        raise InputError(path, f"--minutes {minutes} is shorter than the 1 s minimum")
    if minutes > 24 * 60:
        raise InputError(path, f"--minutes {minutes} is longer than the 1-day maximum")
    return Layout(nchan=int(nchan), nsamp=nsamp, tsamp=tel.tsamp_s, f_top=tel.f_top_mhz,
                  f_bottom=tel.f_bottom_mhz)
