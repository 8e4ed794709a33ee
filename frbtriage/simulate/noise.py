"""Radiometer noise around a CHIME-like bandpass, dead channels, and 8-bit quantisation.

Model
-----
Each channel ``c`` of the 8-bit file holds ``clip(rint(mean[c] + sigma[c] * (n + s)), 0, 255)``
where ``n`` is unit Gaussian noise (the radiometer noise: a power detector averaging
``2 * bandwidth * tsamp`` ~ 768 independent samples per channel is Gaussian to high accuracy)
and ``s`` is everything injected, in units of that channel's noise sigma.

* ``mean[c]`` is the bandpass: ``level`` (default 100 counts) times a shape made of
  - smooth roll-offs at both band edges (``tanh``, ``edge_mhz`` wide, down to ``edge_floor``),
    the analogue filters of the receiver;
  - a broad quadratic tilt across the band (the feed / LNA response, ``tilt`` fractional);
  - the ~30 MHz standing-wave ripple from reflections between the focal line and the
    cylinder (CHIME's well-known bandpass ripple):
    ``ripple_amp * sin(2 pi f / ripple_period + phase)``;
  - small per-channel gain scatter (``gain_jitter``, fractional, independent per channel).
* ``sigma[c] = mean[c] * noise_frac``: a radiometer's noise is proportional to its total power
  (``1 / sqrt(2 * bw * tsamp)`` before the gain that sets the 8-bit level), so channels with
  more gain are noisier by the same factor and S/N is gain-independent. With the defaults the
  mean lies in ~60-115 counts (edges lower) and sigma in ~6-11 counts (10 at the centre).
* Dead channels (a failed correlator node or channels zapped upstream) hold zeros. They come
  in contiguous blocks, ``dead_fraction`` of the band in total.

Quantisation adds ``1/12`` count^2 of variance (< 0.1 % of the noise) and the top of the range
leaves ``(255 - mean) / sigma`` ~ 15-30 sigma of headroom; brighter injections saturate, which
the expected S/N in ``truth.csv`` accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass
class Bandpass:
    """Per-channel mean and noise sigma (8-bit counts), shape ``(nchan,)`` each, plus its recipe.

    ``dead`` is a boolean ``(nchan,)`` mask of channels that are written as zeros;
    ``params`` is what made it (for ``truth.csv``).
    """

    mean: NDArray[np.float32]
    sigma: NDArray[np.float32]
    dead: NDArray[np.bool_]
    params: dict[str, float] = field(default_factory=dict)

    @property
    def headroom(self) -> NDArray[np.float64]:
        """How many noise sigmas fit between each channel's mean and the 8-bit ceiling."""
        return (255.0 - self.mean.astype(np.float64)) / self.sigma.astype(np.float64)


def make_bandpass(freqs_mhz: NDArray, rng: np.random.Generator, level: float = 100.0,
                  noise_frac: float = 0.1, ripple_period_mhz: float = 30.0,
                  ripple_amp: float | None = None, edge_mhz: float = 12.0,
                  edge_floor: float = 0.7, tilt: float | None = None,
                  gain_jitter: float = 0.02) -> Bandpass:
    """A CHIME-like bandpass for channel centres ``freqs_mhz`` ``(nchan,)`` (MHz).

    ``ripple_amp`` (fractional, default drawn in 0.04-0.10) and ``tilt`` (fractional, default
    drawn in -0.15..0.15) are random unless given; the ripple phase is always random.
    Dead channels are not chosen here (see :func:`choose_dead_channels`).
    """
    f = np.asarray(freqs_mhz, dtype=np.float64)
    lo, hi = float(f.min()), float(f.max())
    centre, half = 0.5 * (lo + hi), max(0.5 * (hi - lo), 1e-9)
    amp = float(rng.uniform(0.04, 0.10)) if ripple_amp is None else float(ripple_amp)
    tlt = float(rng.uniform(-0.15, 0.15)) if tilt is None else float(tilt)
    phase = float(rng.uniform(0, 2 * np.pi))
    x = (f - centre) / half
    edges = 0.5 * (np.tanh((f - lo) / edge_mhz * 3 - 1.5) + np.tanh((hi - f) / edge_mhz * 3 - 1.5))
    edges = edge_floor + (1 - edge_floor) * np.clip(edges, 0, 1)
    ripple = 1 + amp * np.sin(2 * np.pi * f / ripple_period_mhz + phase)
    shape = edges * (1 + tlt * x - 0.1 * x * x) * ripple
    shape *= 1 + gain_jitter * rng.standard_normal(f.size)
    mean = level * shape
    mean = np.clip(mean, 16.0, 200.0)
    sigma = mean * noise_frac
    params = {"level": level, "noise_frac": noise_frac, "ripple_period_mhz": ripple_period_mhz,
              "ripple_amp": amp, "ripple_phase_rad": phase, "tilt": tlt, "edge_mhz": edge_mhz,
              "edge_floor": edge_floor, "gain_jitter": gain_jitter}
    return Bandpass(mean.astype(np.float32), sigma.astype(np.float32),
                    np.zeros(f.size, dtype=bool), params)


def choose_dead_channels(nchan: int, fraction: float, rng: np.random.Generator,
                         max_blocks: int = 6) -> list[tuple[int, int]]:
    """Contiguous blocks ``[(first, last_inclusive), ...]`` covering ~``fraction`` of ``nchan``.

    Between 1 and ``max_blocks`` blocks of random sizes at random, non-overlapping places.
    """
    total = int(round(fraction * nchan))
    if total <= 0:
        return []
    nblocks = int(min(max_blocks, total, rng.integers(1, max_blocks + 1)))
    sizes = rng.multinomial(total - nblocks, np.ones(nblocks) / nblocks) + 1
    taken = np.zeros(nchan, dtype=bool)
    blocks: list[tuple[int, int]] = []
    for size in sizes:
        for _ in range(50):
            first = int(rng.integers(0, max(nchan - size, 0) + 1))
            if not taken[max(first - 1, 0):first + size + 1].any():
                taken[first:first + size] = True
                blocks.append((first, first + int(size) - 1))
                break
    return sorted(blocks)


def noise_chunk(rng: np.random.Generator, ntime: int, nchan: int) -> NDArray[np.float32]:
    """Unit Gaussian radiometer noise, shape ``(ntime, nchan)`` float32 (file byte order)."""
    return rng.standard_normal((ntime, nchan), dtype=np.float32)


def quantise(buf: NDArray[np.float32], bandpass: Bandpass) -> NDArray[np.uint8]:
    """Turn a ``(ntime, nchan)`` buffer in noise-sigma units into 8-bit counts (``buf`` is reused).

    ``counts = clip(rint(mean + sigma * buf), 0, 255)``; dead channels become 0.
    """
    buf *= bandpass.sigma[None, :]
    buf += bandpass.mean[None, :]
    np.rint(buf, out=buf)
    np.clip(buf, 0, 255, out=buf)
    if bandpass.dead.any():
        buf[:, bandpass.dead] = 0
    return buf.astype(np.uint8)
