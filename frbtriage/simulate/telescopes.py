"""Bands, channel counts and sample times of the telescopes the simulator can imitate.

CHIME is the default; the others let a user who is not on CHIME simulate data shaped like
their own (and train or test on it): the same burst, RFI and noise models on another grid.
Each preset is a common FRB-search configuration of that telescope; ``--nchan`` may change
the channel count of any of them (the channels always tile the band).
"""

from __future__ import annotations

from dataclasses import dataclass

from frbtriage.errors import InputError
from frbtriage.physics import CHIME_FBOTTOM_MHZ, CHIME_FTOP_MHZ, CHIME_TSAMP_S


@dataclass(frozen=True)
class Telescope:
    """A band from ``f_bottom_mhz`` to ``f_top_mhz`` (MHz, the outer channel edges),
    ``nchan`` channels by default, samples of ``tsamp_s`` seconds; ``what`` says whose
    configuration it is."""

    name: str
    f_bottom_mhz: float
    f_top_mhz: float
    tsamp_s: float
    nchan: int
    what: str


TELESCOPES: dict[str, Telescope] = {t.name: t for t in (
    Telescope("chime", CHIME_FBOTTOM_MHZ, CHIME_FTOP_MHZ, CHIME_TSAMP_S, 1024,
              "CHIME/FRB: 400-800 MHz, 16384 channels natively, 0.98304 ms"),
    Telescope("parkes_uwl", 704.0, 4032.0, 512e-6, 832,
              "Parkes/Murriyang ultra-wideband receiver, as the real Crab file "
              "(../shared/data/real): 704-4032 MHz, 832 channels of 4 MHz, 0.512 ms"),
    Telescope("parkes_mb", 1182.0, 1582.0, 64e-6, 1024,
              "Parkes/Murriyang 20-cm multibeam (BPSR): 1182-1582 MHz, 1024 channels, 64 us"),
    Telescope("askap", 1128.0, 1464.0, 1.2656e-3, 336,
              "ASKAP CRAFT incoherent sum: 1128-1464 MHz, 336 channels of 1 MHz, 1.2656 ms"),
    Telescope("meerkat_l", 856.0, 1712.0, 306.24e-6, 4096,
              "MeerKAT L-band (MeerTRAP): 856-1712 MHz, 4096 channels, 306.24 us"),
    Telescope("gbt_l", 960.0, 1920.0, 256e-6, 4096,
              "GBT L-band (GREENBURST): 960-1920 MHz, 4096 channels, 256 us"),
    Telescope("fast", 1000.0, 1500.0, 98.304e-6, 4096,
              "FAST 19-beam L-band: 1000-1500 MHz, 4096 channels, 98.304 us"),
)}


def telescope(name: str, path: object = None) -> Telescope:
    """The preset called ``name`` (:data:`TELESCOPES`); :class:`InputError` naming ``path``
    for an unknown one."""
    try:
        return TELESCOPES[name]
    except KeyError:
        raise InputError(path, f"unknown telescope {name!r}; known: "
                               f"{', '.join(TELESCOPES)}") from None
