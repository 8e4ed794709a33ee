"""Expected S/N of injections, and what a real-time search would have reported.

Expected S/N (``truth.csv``)
----------------------------
The injected signal (noise-sigma units per channel, each value capped at the channel's
8-bit headroom, so saturation counts) is dedispersed with integer sample delays
(``frbtriage.physics.delay_samples``) over the unmasked channels and summed; the S/N of a
boxcar of ``w`` samples is ``sum / sqrt(w * n_unmasked)`` and the expected S/N is the best
over a fine geometric grid of widths (< 8 % apart) and positions. This is the S/N an ideal
search at exactly that DM measures on average; a given noise realisation adds ~N(0, 1).

Search emulation (``candidates.csv``)
-------------------------------------
For every injection the same computation runs over DM trials with the power-of-two
boxcars of a real-time search (Heimdall, CHIME L1), adding unit Gaussian noise to each
trial's S/N (the noise realisation's contribution), and keeping only box positions whose
whole dispersion sweep lies inside the file. The trial with the highest noisy S/N is what
the search reports (``snr``, ``dm``, box centre as ``stime``, log2 box width):

* bursts: trials spaced by half the DM step that smears the pulse by its own width,
  around the true DM with a random grid offset, so the reported DM and time carry the
  errors of a real search; always reported (label 1), even when faint.
* RFI: a CHIME-like DM grid from 0 to the largest DM searched. A zero-DM impulse peaks at
  DM 0 - few (and, when bright, stays above threshold at larger DMs, earlier by part of the
  sweep, as its dedispersed signal spreads over ``[t - sweep, t]``: up to two extra
  candidates, each kept with probability 1/2, as a search's clustering merges the others);
  a narrowband burst's S/N hardly
  depends on DM, so the noise picks a random-ish DM; a downward drift peaks near the DM
  whose local sweep matches it. Reported only when the best noisy S/N passes the threshold.
* noise: false positives with S/N ``threshold + Exp(0.5)`` at random trials, times and
  power-of-two widths (1-128 samples). They are not found by running a search, so their
  images are plain noise -- which is what near-threshold noise candidates look like.

Clean negatives
---------------
With ``clean_negatives`` (training sets). Simulations boost the burst rate far above the
sky's (tens a minute, so that the classes are balanced), so a noise or RFI candidate's
images (``ft`` and ``dmt``, 256 decimated samples around ``stime``; see
:mod:`frbtriage.prepare`) would often also hold a burst: its label (0) would then
contradict what the images show, which never happens in real data, where bursts are rare.
:func:`snr_in_images` estimates the S/N that the injected bursts have inside a
candidate's images; a noise candidate is redrawn (new trial, time and width, up to
``REDRAWS`` times, else dropped) and an RFI candidate is dropped (its RFI stays in the data
and in ``truth.csv``, with no candidate) when that S/N reaches ``CLEAN_SNR``. Without it
(the default) negatives are reported as a search would, whatever else their window holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from frbtriage.conventions import IMAGE_SIZE, decimation
from frbtriage.physics import delay_samples, delay_seconds
from frbtriage.simulate.layout import Layout
from frbtriage.simulate.profiles import (
    MATCHED_WIDTHS,
    SEARCH_WIDTHS,
    PulseBlock,
    boxcar_snr,
    dedispersed_series,
)

if TYPE_CHECKING:
    from frbtriage.simulate.truth import TruthRow


@dataclass
class Detection:
    """One reported candidate: S/N, top-of-band time (s), DM, width (samples, power of 2)."""

    snr: float
    stime: float
    dm: float
    width: int


#: A negative candidate's images may hold injected bursts only below this S/N.
CLEAN_SNR = 3.0
#: Draws of a noise candidate before it is dropped for lack of a burst-free window.
REDRAWS = 100
#: DM trials used for the dmt estimate of :func:`trace_snrs_in_images`.
_DMT_TRIALS = 64


@dataclass(frozen=True)
class Trace:
    """An injected burst as candidate images see it: top-of-band arrival ``time_s`` (s),
    ``dm`` (pc cm^-3), matched ``width_s`` (s) and expected ``snr``."""

    time_s: float
    dm: float
    width_s: float
    snr: float

    @classmethod
    def from_truth(cls, row: TruthRow, tsamp: float) -> Trace:
        """The trace of a ``burst`` row of ``truth.csv`` in a file of ``tsamp`` s samples."""
        return cls(float(row.time_s), float(row.dm), int(row.width_samples) * tsamp,
                   float(row.snr))


def snr_in_images(det: Detection, traces: list[Trace], layout: Layout) -> float:
    """Largest S/N that any of ``traces`` has inside the ``ft`` or ``dmt`` image of ``det``
    (0 without traces); see :func:`trace_snrs_in_images`."""
    snrs = trace_snrs_in_images(det, traces, layout.freqs, layout.tsamp)
    return float(snrs.max()) if snrs.size else 0.0


def trace_snrs_in_images(det: Detection, traces: list[Trace], freqs_mhz: NDArray,
                         tsamp: float) -> NDArray[np.float64]:
    """S/N ``(len(traces),)`` that each trace has inside the ``ft`` or ``dmt`` image of
    ``det``, in a file of channels ``freqs_mhz`` ``(nchan,)`` and samples of ``tsamp`` s.

    The images span ``256 * decim`` samples centred on ``det.stime`` (``decim`` =
    ``max(1, width // 2)``, FETCH), ``ft`` dedispersed at ``det.dm``, ``dmt`` at DMs
    ``0 .. 2 * det.dm``. A burst narrower than an image pixel (``decim`` samples) loses S/N
    by ``sqrt(width / pixel)``; with ``w = max(width, pixel)`` and ``s`` that S/N, two
    estimates, the larger kept:

    * ``ft``: the burst's own track (at its DM) over the part of each channel's pulse that
      falls in the window: ``s * sqrt(mean over channels of that fraction)``;
    * ``dmt``: dedispersed at trial ``d`` the burst spreads over
      ``L = |dm - d| * sweep(1) + w``; the part ``o`` of that inside the window has S/N
      ``s * sqrt(w * o) / L``, maximised over 64 trials and ``d = dm`` when in range (a
      uniform smear: it overstates the late, low-frequency end of a sweep, so errs on the
      side of calling a window unclean).

    Units: seconds, pc cm^-3.
    """
    if not traces:
        return np.zeros(0)
    pixel = decimation(det.width) * tsamp
    half = IMAGE_SIZE * pixel / 2
    lo_w, hi_w = det.stime - half, det.stime + half
    t = np.array([(tr.time_s, tr.dm, tr.width_s, tr.snr) for tr in traces])
    tb, dmb, width, snr = (t[:, i, None] for i in range(4))
    wb = np.maximum(width, pixel)
    snr = snr * np.sqrt(width / wb)
    # ft: per-channel arrival of each burst in the data dedispersed at det.dm
    k = delay_seconds(1.0, freqs_mhz)[None, :]  # (1, nchan) s per unit DM
    arrive = tb + (dmb - det.dm) * k
    inside = np.clip(np.minimum(arrive + wb / 2, hi_w) - np.maximum(arrive - wb / 2, lo_w),
                     0.0, None) / wb  # fraction of each channel's pulse in the window
    ft = snr[:, 0] * np.sqrt(inside.mean(axis=1))
    # dmt: linear smear at each trial DM, (n, 64 + 1) trials per trace
    trials = np.linspace(0.0, 2.0 * det.dm, _DMT_TRIALS)[None, :]
    dms = np.concatenate([np.broadcast_to(trials, (len(traces), _DMT_TRIALS)),
                          np.clip(dmb, 0.0, 2.0 * det.dm)], axis=1)
    shift = (dmb - dms) * float(k.max() - k.min())
    a = tb + np.minimum(shift, 0.0) - wb / 2
    b = tb + np.maximum(shift, 0.0) + wb / 2
    overlap = np.clip(np.minimum(b, hi_w) - np.maximum(a, lo_w), 0.0, None)
    dmt = snr * np.sqrt(wb * overlap) / (b - a)
    return np.maximum(ft, dmt.max(axis=1))


def capped(block: PulseBlock, headroom: NDArray) -> PulseBlock:
    """``block`` with each value limited to its channel's headroom (8-bit saturation)."""
    data = np.minimum(block.data, headroom[block.chans, None].astype(np.float32))
    return PulseBlock(block.chans, block.k0, data)


def expected_snr(block: PulseBlock, layout: Layout, dm: float, live: NDArray[np.bool_],
                 widths: NDArray[np.int64] = MATCHED_WIDTHS) -> tuple[float, int, int]:
    """Matched-boxcar S/N of ``block`` dedispersed at ``dm`` over the ``live`` channels.

    Returns ``(snr, width_samples, centre_sample)``, the centre in dedispersed (top-of-band)
    samples from the file start.
    """
    n_live = max(int(live.sum()), 1)
    series, first = dedispersed_series(block, layout.delays(dm), live.astype(np.float64))
    snr, width, start = boxcar_snr(series, n_live, widths)
    return snr, width, first + start + width // 2


def dm_grid(dm_max: float, layout: Layout) -> NDArray[np.float64]:
    """A CHIME-like search grid: fine near 0, then spaced so adjacent trials differ by
    about one sample of sweep per ~3 % DM (capped at 120 trials), up to ``dm_max``."""
    low = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.5, 8.0])
    low = low[low <= dm_max]
    if dm_max <= 10:
        return low
    n = int(np.clip(np.log(dm_max / 10.0) / np.log(1.06), 8, 110))
    return np.concatenate([low, np.geomspace(10.0, dm_max, n)])


class SearchEmulator:
    """Reports candidates for injections as a real-time dedispersion search would."""

    def __init__(self, layout: Layout, live: NDArray[np.bool_], headroom: NDArray,
                 dm_max: float, threshold: float, rng: np.random.Generator,
                 clean_negatives: bool = False) -> None:
        self.layout = layout
        self.live_w = live.astype(np.float64)
        self.n_live = max(int(live.sum()), 1)
        self.headroom = headroom
        self.dm_max = dm_max
        self.threshold = threshold
        self.rng = rng
        self.grid = dm_grid(dm_max, layout)
        self._delays = delay_samples(self.grid[:, None], layout.freqs, layout.tsamp)
        #: injected bursts that negative candidates must keep out of their images (when
        #: ``clean_negatives``)
        self.clean_negatives = clean_negatives
        self.traces: list[Trace] = []
        #: negative candidates dropped for want of a burst-free window, by kind
        self.dropped = {"rfi": 0, "noise": 0}

    def clean(self, det: Detection) -> bool:
        """Whether ``det`` may be reported as a negative: always without ``clean_negatives``,
        else when its images hold no injected burst at S/N >= ``CLEAN_SNR``."""
        return (not self.clean_negatives
                or snr_in_images(det, self.traces, self.layout) < CLEAN_SNR)

    def _trial(self, block: PulseBlock, delays: NDArray[np.int64]) -> tuple[float, int, int]:
        """Noise-free best power-of-two boxcar (snr, width, centre sample) restricted to box
        positions whose dispersion sweep lies inside the file."""
        series, first = dedispersed_series(block, delays, self.live_w)
        lo = max(0, -first)
        hi = min(series.size, self.layout.nsamp - int(delays.max()) - first)
        if hi - lo < 1:
            return -np.inf, 1, 0
        snr, width, start = boxcar_snr(series[lo:hi], self.n_live, SEARCH_WIDTHS)
        return snr, width, first + lo + start + width // 2

    def _detection(self, snr: float, width: int, centre: int, dm: float) -> Detection:
        jitter = self.rng.normal(0.0, max(width, 1) / max(snr, 3.0) / 2)
        t = float(np.clip((centre + 0.5 + jitter) * self.layout.tsamp, 0.0,
                          self.layout.duration))
        return Detection(snr=float(snr), stime=t, dm=float(dm), width=int(width))

    def burst(self, block: PulseBlock, dm_true: float, width_eff_s: float) -> Detection:
        """The candidate a search reports for a burst (always reported)."""
        sweep_per_dm = self.layout.sweep(1.0)
        step = max(0.5 * max(width_eff_s, self.layout.tsamp) / sweep_per_dm, 0.01)
        offset = self.rng.uniform(-0.5, 0.5) * step
        trials = np.clip(dm_true + offset + step * np.arange(-4, 5), 0.0, None)
        block = capped(block, self.headroom)
        best: tuple[float, int, int, float] | None = None
        for dm in trials:
            snr, width, centre = self._trial(block, self.layout.delays(float(dm)))
            noisy = snr + self.rng.normal()
            if best is None or noisy > best[0]:
                best = (noisy, width, centre, float(dm))
        assert best is not None
        return self._detection(*best)

    def best_dm(self, block: PulseBlock) -> float:
        """The DM trial of the search grid at which ``block`` (any scale) has the highest
        noise-free power-of-two boxcar S/N: the DM a search would report it at, pc cm^-3."""
        res = [self._trial(block, self._delays[i])[0] for i in range(self.grid.size)]
        return float(self.grid[int(np.argmax(res))])

    def rfi(self, block: PulseBlock, max_extra: int = 2) -> list[Detection]:
        """Candidates a search reports for an RFI event (possibly none)."""
        block = capped(block, self.headroom)
        res = [self._trial(block, self._delays[i]) for i in range(self.grid.size)]
        noisy = np.array([r[0] for r in res]) + self.rng.standard_normal(self.grid.size)
        noisy[~np.isfinite(noisy)] = -np.inf
        order = np.argsort(noisy)[::-1]
        if noisy[order[0]] < self.threshold:
            return []
        picks = [int(order[0])]
        above = [int(i) for i in order[1:] if noisy[i] >= self.threshold]
        self.rng.shuffle(above)
        for i in above:
            if len(picks) > max_extra:
                break
            if self.rng.random() < 0.5:  # clustering merges some of them
                continue
            # a search clusters neighbouring trials; only well-separated ones survive
            if all(abs(self.grid[i] - self.grid[j]) > 0.3 * max(self.grid[j], 10.0) for j in picks):
                picks.append(i)
        dets = [self._detection(float(noisy[i]), res[i][1], res[i][2], float(self.grid[i]))
                for i in picks]
        kept = [d for d in dets if self.clean(d)]
        self.dropped["rfi"] += len(dets) - len(kept)
        return kept

    def noise(self, n: int) -> list[Detection]:
        """Up to ``n`` near-threshold false positives from the noise (with ``clean_negatives``
        each in a window free of injected bursts, see *Clean negatives* above)."""
        out = []
        for _ in range(n):
            for _ in range(REDRAWS):
                dm = float(self.grid[self.rng.integers(self.grid.size)])
                width = int(2 ** self.rng.integers(0, 8))
                latest = self.layout.duration - self.layout.sweep(dm) - width * self.layout.tsamp
                t = float(self.rng.uniform(0.0, max(latest, 0.0)))
                det = Detection(snr=0.0, stime=t, dm=dm, width=width)
                if self.clean(det):
                    det.snr = self.threshold + float(self.rng.exponential(0.5))
                    out.append(det)
                    break
            else:
                self.dropped["noise"] += 1
        return out
