"""Candidate preparation: FETCH-style ``ft`` and ``dmt`` images into the workspace.

For each candidate (``tcand`` s at the top of the band, ``dm`` pc cm^-3, ``width`` samples)
this does what ``your``'s ``Candidate`` + ``your_candmaker.py`` do (get_chunk, dmtime,
dedisperse, decimate, crop, resize, normalise), computed directly on the samples that are
kept and without ``your``'s wrap-around:

* time decimation ``decim = max(1, width // 2)``; the output is 256 decimated samples
  centred on the burst on the same sample grid ``your`` uses (its chunk start
  ``int((tcand - sweep(DM)) / tsamp) - width``, cropped to the central 256 decimated
  samples), except that ``your`` leaves the burst off-centre when it lengthens a short
  chunk for a wide pulse: here the chunk is lengthened symmetrically;
* only the samples needed are read: channel ``c`` needs ``256 * decim`` kept samples plus
  its own delay at the largest trial (``2 * DM``), a few times fewer than the full
  rectangle ``your`` reads and rolls. For a filterbank window inside the file they go from
  the memory map's time-major bytes straight into both images' sums, one channel block at
  a time, with no float32 window (:func:`window_images`,
  ``frbtriage.kernels.images.candidate_sums``). A window reaching outside the file is read
  whole with each channel's median as padding (the candidate is flagged ``padded``), and
  CHIME chunks decode into a channel-major float32 window (:func:`read_window`); both then
  go through the same sums;
* bad channels (an optional kill mask, plus spectral-kurtosis and IQRM flags computed once
  per file from stretches spread through it) are set to zero, as ``your``'s kill mask does;
* ``ft``: dedispersed at DM, decimated in time, channels resized to 256 by area-weighted
  means (row 0 = highest frequency), normalised;
* ``dmt``: 256 DM trials ``linspace(0, 2 DM, 256)``, the sum over channels of the kept
  output samples (what ``frbtriage.kernels.bowtie.dm_time`` computes, here at the decimated
  resolution from boxcar sums split by phase), then normalised (row 0 = DM 0).

Candidates are grouped by data file (each opened once); every step runs in Numba kernels
parallel over the cores (the fused sums, the resize). Images
are appended to the workspace in batches, each batch atomic (see ``frbtriage.workspace``);
candidates already stored are skipped before any work, so an interrupted run re-run
finishes without duplicates.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from frbtriage import db
from frbtriage.conventions import IMAGE_SIZE, decimation
from frbtriage.errors import InputError
from frbtriage.io.filterbank import fill_nonfinite
from frbtriage.jit import CompileClock, compile_note
from frbtriage.physics import delay_samples, delay_table, sweep_seconds

if TYPE_CHECKING:
    from tqdm import tqdm

    from frbtriage.io.candidates import Candidate
    from frbtriage.io.filterbank import Header
    from frbtriage.io.open_data import DataReader
    from frbtriage.workspace import NewCandidate, Workspace

log = logging.getLogger(__name__)

#: Flagging in :func:`channel_mask`.
FlagMode = Literal["auto", "sk", "iqrm", "none"]
#: Where :func:`prepare_candidates` gets its channel mask: once per file (default), from
#: each candidate's window, or none (only a kill mask if given).
MaskMode = Literal["file", "window", "none"]


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Geometry:
    """Where a candidate's images come from, in file samples.

    ``decim``: time decimation factor; ``start``: first kept input sample at the top of the
    band (output sample ``j`` averages input samples ``start + j*decim ... + decim - 1``);
    the window read is ``[start, read_stop)``; ``ft_delays`` ``(nchan,)`` and ``dmt_delays``
    ``(256, nchan)`` integer sample delays (file channel order); ``dms`` ``(256,)`` the DM
    trials in pc cm^-3; ``need`` ``(nchan,)`` how many samples from ``start`` each channel
    needs (``256*decim`` plus its delay at the largest trial, ``2*DM``).
    """

    decim: int
    start: int
    read_stop: int
    ft_delays: NDArray[np.int64]
    dmt_delays: NDArray[np.int64]
    dms: NDArray[np.float64]
    need: NDArray[np.int64]

    @property
    def read_start(self) -> int:
        """First sample read (the first kept sample)."""
        return self.start

    @property
    def kept(self) -> int:
        """Number of input samples the 256 output samples average: ``256 * decim``."""
        return IMAGE_SIZE * self.decim


def image_axes(header: Header, width: int) -> tuple[float, float, float]:
    """``(f_hi_mhz, f_lo_mhz, pixel_s)`` of the ``ft`` image of a ``width``-sample candidate
    from a file described by ``header``: the outer channel edges of the band (its rows cover
    it evenly, row 0 highest) and ``tsamp * decimation(width)`` seconds between columns."""
    freqs = header.freqs
    half = 0.5 * abs(float(header.foff))
    return (float(freqs.max()) + half, float(freqs.min()) - half,
            float(header.tsamp) * decimation(width))


def geometry(header: Header, tcand: float, dm: float, width: int) -> Geometry:
    """The windows and delays for a candidate (``tcand`` s, ``dm`` pc cm^-3, ``width``
    samples) in the file described by ``header``. Pure arithmetic; no I/O."""
    freqs = header.freqs
    tsamp = header.tsamp
    decim = decimation(width)
    sweep = sweep_seconds(dm, freqs.min(), freqs.max())  # as your computes it
    # your's get_chunk: [tcand - sweep - width*tsamp, tcand + sweep + width*tsamp)
    t0 = tcand - sweep - width * tsamp
    t1 = tcand + sweep + width * tsamp
    nstart = math.floor(t0 / tsamp)
    nsamp = int((t1 - t0) / tsamp)
    if nsamp < IMAGE_SIZE * decim:  # too short for 256 decimated samples: lengthen, centred
        nstart -= (IMAGE_SIZE * decim - nsamp) // 2
        nsamp = IMAGE_SIZE * decim
    # your_candmaker: decimate (padded to a multiple), crop the central 256
    nblocks = -(-nsamp // decim)
    start = nstart + (nblocks // 2 - IMAGE_SIZE // 2) * decim
    dms = np.linspace(0.0, 2.0 * dm, IMAGE_SIZE)
    dmt_delays = delay_table(dms, freqs, tsamp)
    ft_delays = delay_samples(dm, freqs, tsamp)
    need = IMAGE_SIZE * decim + dmt_delays.max(axis=0)
    read_stop = start + int(need.max())
    return Geometry(decim=decim, start=start, read_stop=read_stop, ft_delays=ft_delays,
                    dmt_delays=dmt_delays, dms=dms, need=need)


# --------------------------------------------------------------------------- reading


#: Tiles of :func:`_fill_ragged`: 256 channels x 16 spectra (4 KB of file bytes, 16 KB of
#: output). Measured on 1024 and 16384 channels against 64 x 128 (the old choice), 512 x 16,
#: 1024 x 64, 4096 x 16 and others: 1.3-2x faster than 64 x 128, within 5 % of the best.
_FILL_CBLOCK = 256
_FILL_TBLOCK = 16


@njit(parallel=True, cache=True)
def _fill_ragged(raw, need, out, cblock, tblock):  # pragma: no cover - compiled
    """out[c, t] = raw[t, c] for t < need[c]: time-major file samples to channel-major
    float32, only where each channel needs them. Parallel over blocks of ``cblock``
    channels; each block goes through time in tiles of ``tblock`` spectra (a few KB of the
    file, in L1) and writes each channel's run of the tile contiguously (measured 2-3x
    faster than writing one sample to every channel row per spectrum). Memory-bound: the
    float32 output is 4x the bytes read."""
    nchan = raw.shape[1]
    nblk = (nchan + cblock - 1) // cblock
    for b in prange(nblk):
        c0 = b * cblock
        c1 = min(nchan, c0 + cblock)
        hi = 0
        for c in range(c0, c1):
            hi = max(hi, need[c])
        for t0 in range(0, hi, tblock):
            tile = raw[t0 : min(t0 + tblock, hi), c0:c1]
            nt = tile.shape[0]
            for c in range(c0, c1):
                n = min(nt, need[c] - t0)
                if n <= 0:
                    continue
                dst = out[c, t0 : t0 + n]
                k = c - c0
                for i in range(n):
                    dst[i] = tile[i, k]


class Scratch:
    """A reusable float32 buffer for candidate windows (no page faults on every candidate).

    ``get(nchan, ntime)`` returns an uninitialised C-contiguous ``(nchan, ntime)`` view,
    growing the buffer when needed. One per thread."""

    def __init__(self) -> None:
        self._buf = np.empty(0, dtype=np.float32)

    def get(self, nchan: int, ntime: int) -> NDArray[np.float32]:
        """An uninitialised ``(nchan, ntime)`` float32 array backed by this buffer."""
        size = int(nchan) * int(ntime)
        if self._buf.size < size:
            self._buf = np.empty(size, dtype=np.float32)
        return self._buf[:size].reshape(nchan, ntime)


@njit(parallel=True, cache=True)
def _pad_rows(out, off, got, need, med):  # pragma: no cover - compiled
    """Fill ``out[c, :off]`` and ``out[c, off + got[c] : need[c]]`` with ``med[c]``."""
    for c in prange(out.shape[0]):
        v = med[c]
        for t in range(off):
            out[c, t] = v
        for t in range(off + got[c], need[c]):
            out[c, t] = v


def _fill_needed(reader: DataReader, a: int, b: int, got: NDArray[np.int64],
                 out: NDArray[np.float32]) -> None:
    """``out[c, :got[c]]`` = in-file samples ``a, a + 1, ...`` of channel ``c`` (``b - a =
    max(got)``): CHIME chunks decode only those (:meth:`ChunkReader.read_ragged`), a
    filterbank converts them from its time-major memory map (and zero-weights NaN/Inf in
    float data)."""
    from frbtriage.io.chime_reader import ChunkReader

    if isinstance(reader, ChunkReader):
        reader.read_ragged(a, got, out)
    else:
        _fill_ragged(reader.raw(a, b - a), got, out, _FILL_CBLOCK, _FILL_TBLOCK)
        if reader.may_hold_nonfinite:  # float32 data: NaN/Inf get zero weight
            fill_nonfinite(out, got)


def read_window(reader: DataReader, geo: Geometry, scratch: Scratch | None = None
                ) -> tuple[NDArray[np.float32], bool]:
    """The candidate's window ``(nchan, read_stop - read_start)`` float32 (file channel
    order) and whether it was padded.

    Only the samples each channel needs (``geo.need``) are converted from the file's
    time-major layout, into ``scratch`` when given (valid until its next use); the rest of
    each row is left uninitialised and is never read by :func:`make_images`. NaN and infinite
    samples get zero weight (:func:`frbtriage.io.filterbank.fill_nonfinite`). Needed samples
    outside the file are each channel's median over the in-file samples all channels need
    (the reader pads with the median over the whole in-file window; same idea, fewer
    samples read).
    """
    n = geo.read_stop - geo.read_start
    nspec = reader.header.nspectra
    a, b = max(geo.read_start, 0), min(geo.read_stop, nspec)
    if b <= a:
        block = reader.read(geo.read_start, geo.read_stop)
        return block.data, block.padded
    nchan = reader.header.nchans
    out = scratch.get(nchan, n) if scratch is not None else np.empty((nchan, n), np.float32)
    off = a - geo.read_start
    got = np.clip(geo.need - off, 0, b - a)  # in-file samples of each channel
    if off == 0 and np.array_equal(got, geo.need):
        _fill_needed(reader, a, b, geo.need, out)
        return out, False
    common = int(got.min())
    if common < 1:  # some channel needs no in-file sample: let the reader pad it all
        block = reader.read(geo.read_start, geo.read_stop)
        return block.data, True
    _fill_needed(reader, a, b, got, out[:, off:])
    med = np.median(out[:, off : off + common], axis=1).astype(np.float32)
    _pad_rows(out, off, got, geo.need, med)
    return out, True


def dm_time_decimated(data: NDArray[np.float32], geo: Geometry) -> NDArray[np.float32]:
    """The decimated DM-time image ``(256 DM, 256 time)`` of a channel-major window (before
    normalising): ``out[d, j] = mean_{k < decim} sum_c data[c, j*decim + k + dmt_delays[d, c]]``,
    i.e. ``frbtriage.kernels.bowtie.dm_time(data, dmt_delays, 0, 256, decim)``, computed by
    :func:`frbtriage.kernels.images.candidate_sums` at the decimated resolution (one add per
    channel and pixel whatever ``decim`` is)."""
    from frbtriage.kernels.images import candidate_sums

    return candidate_sums(data, geo.need, geo.dmt_delays, geo.ft_delays, IMAGE_SIZE,
                          geo.decim)[0]


# --------------------------------------------------------------------------- masks


def channel_mask(data: NDArray[np.float32], mode: FlagMode = "auto",
                 kill: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
    """Bad channels of ``data`` ``(nchan, ntime)``: ``(nchan,)`` bool, True = bad.

    ``mode``: ``"auto"`` = spectral kurtosis (5 sigma) or IQRM (3 sigma) on the channel
    standard deviations; ``"sk"``, ``"iqrm"`` one of them; ``"none"`` neither. ``kill`` is
    an extra fixed mask (e.g. a pipeline's bad-channel list) OR-ed in.
    """
    from frbtriage.kernels.rfi import iqrm_mask, sk_mask

    if mode not in ("auto", "sk", "iqrm", "none"):
        raise ValueError(f"mask mode must be auto, sk, iqrm or none, got {mode!r}")
    nchan = data.shape[0]
    mask = np.zeros(nchan, dtype=bool)
    if kill is not None:
        mask |= np.asarray(kill, dtype=bool)
    if mode in ("auto", "sk") and data.shape[1] >= 2:
        mask |= sk_mask(data, sigma=5.0)
    if mode in ("auto", "iqrm") and nchan >= 8:
        mask |= iqrm_mask(data, threshold=3.0)
    return mask


def file_mask(reader: DataReader, kill: NDArray[np.bool_] | None = None,
              budget: int = 1 << 24, pieces: int = 32) -> NDArray[np.bool_]:
    """SK + IQRM channel mask of a whole file from ``pieces`` short stretches spread evenly
    through it (about ``budget`` samples x channels in all, at least 1024 time samples),
    OR-ed with ``kill``. ``(nchan,)`` bool, True = bad. Cheap, once per file, and not
    biased by any one candidate's burst."""
    h = reader.header
    total = max(1024, budget // h.nchans)
    if total >= h.nspectra:
        data = reader.read(0, h.nspectra).data
    else:
        each = max(32, total // pieces)
        starts = np.linspace(0, h.nspectra - each, pieces).astype(np.int64)
        data = np.concatenate([reader.read(int(a), int(a) + each).data for a in starts], axis=1)
    return channel_mask(data, "auto", kill)


# --------------------------------------------------------------------------- images


def make_images(data: NDArray[np.float32], geo: Geometry, descending: bool,
                mask: NDArray[np.bool_] | None = None
                ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``ft`` and ``dmt`` (each (256, 256) float32, normalised) from a channel-major window.

    ``data`` ``(nchan, >= max(geo.need))`` float32 in file channel order, starting at
    ``geo.read_start``; only ``data[c, :geo.need[c]]`` is read, and nothing is written.
    Masked channels count as zeros. ``descending``: True when the file's first channel is the
    highest frequency (``foff < 0``); ``ft`` row 0 is always the highest frequency.
    """
    return _finish_images(*_sums(data, geo, mask, time_major=False), descending)


def _sums(data: NDArray, geo: Geometry, mask: NDArray[np.bool_] | None, time_major: bool
          ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Un-normalised ``(ft (nchan, 256), dmt (256, 256))`` of a window in either layout
    (:func:`frbtriage.kernels.images.candidate_sums`, masked channels left out)."""
    from frbtriage.kernels.images import candidate_sums

    keep = None if mask is None else ~np.asarray(mask, dtype=bool)
    dmt, ft = candidate_sums(data, geo.need, geo.dmt_delays, geo.ft_delays, IMAGE_SIZE,
                             geo.decim, keep, time_major=time_major)
    return ft, dmt


def _finish_images(ft: NDArray[np.float32], dmt: NDArray[np.float32], descending: bool
                   ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Row 0 = highest frequency, channels resized to 256 by area means, both normalised."""
    from frbtriage.kernels.spectra import normalise, resize_freq

    if not descending:
        ft = ft[::-1]
    ft = normalise(resize_freq(np.ascontiguousarray(ft), IMAGE_SIZE, "area"))
    return ft, normalise(dmt)


#: Largest spectrum (bytes) :func:`window_images` reads time-major into the fused sums. Measured
#: (CPU time, one thread): 1024 x 8 bits (1 KB) 1.2-1.5x faster fused than read_window +
#: make_images at DM 170-520; 16384 x 8 bits (16 KB, a page per spectrum x 4) 1.4x slower
#: fused (its 64-channel loads touch every spectrum's pages 256 times), so wide files keep
#: read_window's 256-channel tiles and then the same kernel channel-major.
_FUSED_SPECTRUM_BYTES = 4096


def window_images(reader: DataReader, geo: Geometry, descending: bool,
                  mask: NDArray[np.bool_] | None = None, scratch: Scratch | None = None
                  ) -> tuple[NDArray[np.float32], NDArray[np.float32], bool]:
    """``(ft, dmt, padded)`` of the candidate ``geo`` describes, from an open reader.

    A filterbank window wholly inside the file is read where it lies: the time-major samples
    of the memory map (8, 16 or 32 bits) go straight into the images' sums, one channel
    block at a time (:func:`frbtriage.kernels.images.candidate_sums`), with no float32
    window. Float data whose used samples hold NaN/Inf (which must get zero weight), CHIME
    chunks, padded windows and spectra over :data:`_FUSED_SPECTRUM_BYTES` go through
    :func:`read_window` and :func:`make_images`; every route gives the same images."""
    from frbtriage.io.chime_reader import ChunkReader

    h = reader.header
    if (not isinstance(reader, ChunkReader) and geo.read_start >= 0
            and geo.read_stop <= h.nspectra and h.nchans * h.nbits // 8 <= _FUSED_SPECTRUM_BYTES):
        raw = reader.raw(geo.read_start, geo.read_stop - geo.read_start)
        ft, dmt = _sums(raw, geo, mask, time_major=True)
        if not reader.may_hold_nonfinite or (np.isfinite(dmt).all() and np.isfinite(ft).all()):
            return (*_finish_images(ft, dmt, descending), False)
    data, padded = read_window(reader, geo, scratch)
    return (*make_images(data, geo, descending, mask), padded)


def candidate_images(reader: DataReader, tcand: float, dm: float, width: int,
                     mask: NDArray[np.bool_] | None = None
                     ) -> tuple[NDArray[np.float32], NDArray[np.float32], bool]:
    """Read one candidate's window from an open file and make its images.

    ``mask`` ``(nchan,)`` bad channels (e.g. :func:`file_mask`), None for none. Returns
    ``(ft, dmt, padded)``: ``ft`` (256 freq, row 0 highest, 256 time), ``dmt`` (256 DM
    0..2·DM, 256 time), ``padded`` True if the window reached outside the file. Raises
    :class:`InputError` for a candidate that cannot be prepared (see :func:`check_candidate`).
    """
    problem = check_candidate(reader.header, tcand, dm, width)
    if problem:
        raise InputError(reader.path, problem)
    geo = geometry(reader.header, tcand, dm, width)
    return window_images(reader, geo, reader.header.foff < 0, mask)


#: Largest candidate window :func:`read_window` may hold, bytes of float32: far more than any
#: real candidate needs (a 16384-channel CHIME file at DM 3000 needs 7.3 GiB, at the usual
#: 1024 channels under half a GiB), far less than the petabytes a corrupt width or DM asks
#: for. A candidate over it is skipped with the limit named instead of failing to allocate.
MAX_WINDOW_BYTES = 8 << 30


def window_bytes(header: Header, dm: float, width: int) -> int:
    """About how many bytes of float32 a candidate's window takes (:class:`Geometry`'s
    ``256 * decim`` kept samples plus the sweep at the largest DM trial, ``2 * DM``, times
    the channels), without building its delay tables."""
    freqs = header.freqs
    sweep = sweep_seconds(2.0 * dm, freqs.min(), freqs.max()) / header.tsamp
    return (IMAGE_SIZE * decimation(width) + math.ceil(sweep) + 1) * header.nchans * 4


def check_candidate(header: Header, tcand: float, dm: float, width: int) -> str | None:
    """Why a candidate cannot be prepared from this file, or None if it can."""
    if not (math.isfinite(tcand) and math.isfinite(dm)):
        return f"tcand={tcand!r} s / dm={dm!r} not finite"
    if dm <= 0:
        return f"DM {dm:g} <= 0 (no DM-time range to image)"
    if int(width) != width or width <= 0:
        return f"width {width!r} samples is not a whole number >= 1"
    if tcand < 0 or tcand >= header.duration:
        return (f"tcand {tcand:.6f} s lies wholly outside the file "
                f"(0..{header.duration:.6f} s)")
    need = window_bytes(header, dm, width)
    if need > MAX_WINDOW_BYTES:
        return (f"its window (width {width} samples, DM {dm:g}) would take {need / 2**30:.3g} "
                f"GiB, more than the {MAX_WINDOW_BYTES / 2**30:g} GiB limit")
    return None


# --------------------------------------------------------------------------- the run


@dataclass
class Skipped:
    """A candidate that was not prepared and why."""

    file: str
    tcand: float
    dm: float
    width: int
    reason: str

    def __str__(self) -> str:
        return (f"{self.file}: candidate tcand={self.tcand:.6f} s dm={self.dm:g} "
                f"width={self.width}: {self.reason}")


@dataclass
class PrepareSummary:
    """What a run did: ``total`` candidates given; ``added`` new rows; ``already`` stored
    before (skipped as duplicates, including repeats within the list); ``padded`` of the
    added ones; ``skipped`` candidates that could not be prepared (with reasons);
    ``seconds`` wall time, of which ``compile_s`` went to compiling ``compiled`` Numba
    kernels (a first run only, :mod:`frbtriage.jit`; not counted in :attr:`rate`);
    ``files`` data files opened."""

    total: int = 0
    added: int = 0
    already: int = 0
    padded: int = 0
    files: int = 0
    seconds: float = 0.0
    compile_s: float = 0.0
    compiled: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Candidates added per second, without the one-off Numba compilation."""
        wall = self.seconds - self.compile_s
        return self.added / wall if wall > 0 else 0.0

    @property
    def prepared(self) -> int:
        """Candidates now in the store (added now or before)."""
        return self.added + self.already

    def nothing_prepared(self, source: str = "") -> InputError:
        """The error for a run in which no candidate could be prepared (``skipped`` non-empty):
        it names the first skipped candidate's data file and reason; ``source`` the list."""
        first = self.skipped[0]
        where = f" in {source}" if source else ""
        return InputError(first.file, f"none of the {self.total} candidates{where} could be "
                                      f"prepared (first: {first.reason})")

    def __str__(self) -> str:
        return (f"{self.total} candidates: {self.added} added ({self.padded} padded), "
                f"{self.already} already stored, {len(self.skipped)} skipped; "
                f"{self.files} data file(s), {self.seconds:.1f} s ({self.rate:.1f} cand/s)"
                + compile_note(self.compile_s, self.compiled))


def _load_kill(path: str | os.PathLike[str] | None, nchan: int) -> NDArray[np.bool_] | None:
    """A kill mask from a text file of channel indices (your's ``chan_mask_path`` format)."""
    if path is None:
        return None
    try:
        idx = np.atleast_1d(np.loadtxt(path, dtype=np.int64, ndmin=1))
    except (OSError, ValueError) as err:
        raise InputError(path, f"not a list of channel numbers ({err})") from err
    if idx.size and (idx.min() < 0 or idx.max() >= nchan):
        raise InputError(path, f"channel numbers must lie in 0..{nchan - 1}")
    mask = np.zeros(nchan, dtype=bool)
    mask[idx] = True
    return mask


def check_data_files(candidates: Iterable[Candidate]) -> None:
    """Raise :class:`InputError` naming the first data file and its problem when none of the
    candidates' data files can be opened (missing, truncated, bad header, unsupported nbits).

    Called by the CLI before a workspace is created or changed, so that a list pointing at
    no readable data fails with one line and writes nothing. Among readable files an
    unreadable one is not an error here: :func:`prepare_candidates` skips its candidates
    with a warning and goes on."""
    from frbtriage.io.open_data import open_data

    first: InputError | None = None
    for f in dict.fromkeys(os.path.abspath(c.file) for c in candidates):
        try:
            open_data(f).close()
            return
        except InputError as err:
            first = first or err
    if first is not None:
        raise first


def _fresh_by_file(ws: Workspace, cands: Sequence[Candidate]
                   ) -> tuple[dict[str, list[Candidate]], int]:
    """The candidates to prepare, grouped by absolute data file path and sorted by
    ``(tcand, dm, width)`` within each file, and how many were dropped: already in ``ws`` or
    repeated in ``cands`` (same key, see ``db.candidate_key``)."""
    by_file: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        by_file[os.path.abspath(c.file)].append(c)
    known = ws.known_keys(list(by_file))
    todo: dict[str, list[Candidate]] = {}
    dropped = 0
    for f, group in by_file.items():
        fresh = []
        for c in sorted(group, key=lambda c: (c.tcand, c.dm, c.width)):
            key = db.candidate_key(f, c.tcand, c.dm, c.width)
            if key in known:
                dropped += 1
            else:
                known.add(key)
                fresh.append(c)
        if fresh:
            todo[f] = fresh
    return todo, dropped


class _Recorder:
    """Where each candidate of a run ends up, counted in ``summary``: a prepared one joins the
    pending batch, appended to ``ws`` ``batch_size`` at a time (each batch atomic; then
    ``on_batch(summary.added)``), a skipped one is logged with its reason; ``bar`` advances
    by one either way."""

    def __init__(self, ws: Workspace, summary: PrepareSummary, bar: tqdm, batch_size: int,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self.ws = ws
        self.summary = summary
        self.bar = bar
        self.batch_size = batch_size
        self.on_batch = on_batch
        self._pending: list[NewCandidate] = []
        self._ft: list[NDArray[np.float32]] = []
        self._dmt: list[NDArray[np.float32]] = []

    def prepared(self, record: NewCandidate, ft: NDArray[np.float32],
                 dmt: NDArray[np.float32]) -> None:
        """Queue a candidate with its ``(256, 256)`` images; write the batch when it is full."""
        self._pending.append(record)
        self._ft.append(ft)
        self._dmt.append(dmt)
        self.bar.update(1)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def opened(self, path: str) -> None:
        """Count data file ``path`` as opened."""
        self.summary.files += 1

    def skipped(self, path: str, c: Candidate, reason: str) -> None:
        """Record that candidate ``c`` of data file ``path`` was not prepared, and why."""
        s = Skipped(path, float(c.tcand), float(c.dm), int(c.width), reason)
        self.summary.skipped.append(s)
        log.warning("skipped %s", s)
        self.bar.update(1)

    def flush(self) -> None:
        """Append the pending batch to the workspace, if any, and count what was added."""
        pending = self._pending
        if not pending:
            return
        summary = self.summary
        ids = self.ws.append(pending, np.stack(self._ft), np.stack(self._dmt))
        summary.ids.extend(ids)
        summary.added += len(ids)
        summary.already += len(pending) - len(ids)
        if len(ids) == len(pending):
            summary.padded += sum(1 for c in pending if c.padded)
        else:  # another writer stored some of them meanwhile
            summary.padded += sum(1 for r in self.ws.candidates(ids) if r.padded)
        pending.clear()
        self._ft.clear()
        self._dmt.clear()
        if self.on_batch is not None:
            self.on_batch(summary.added)


class ImageSink(Protocol):
    """Where :func:`prepare_file` puts each candidate: the run's recorder (appending to a
    workspace) or, in the nightly job, a worker's collector that sends the images back."""

    def opened(self, path: str) -> None:
        """Data file ``path`` is open; its candidates follow."""

    def prepared(self, record: NewCandidate, ft: NDArray[np.float32],
                 dmt: NDArray[np.float32]) -> None:
        """A candidate with its ``(256, 256)`` images."""

    def skipped(self, path: str, c: Candidate, reason: str) -> None:
        """Candidate ``c`` of data file ``path`` could not be prepared, and why."""


def prepare_file(rec: ImageSink, path: str, group: Sequence[Candidate], mask: MaskMode,
                 kill_mask: str | os.PathLike[str] | None, scratch: Scratch,
                 label_source: str) -> None:
    """Prepare one data file's candidates ``group`` into ``rec`` (see
    :func:`prepare_candidates` for ``mask``, ``kill_mask`` and ``label_source``); the file
    is opened once, and a file that cannot be read skips them all."""
    from frbtriage.dispersion import measure
    from frbtriage.io.open_data import open_data
    from frbtriage.workspace import NewCandidate

    try:
        reader = open_data(path)
    except InputError as err:
        for c in group:
            rec.skipped(path, c, f"unreadable data file ({err.problem})")
        return
    rec.opened(path)
    with reader:
        try:
            kill = _load_kill(kill_mask, reader.header.nchans)
            fmask = file_mask(reader, kill) if mask == "file" else kill
        except InputError as err:
            for c in group:
                rec.skipped(path, c, f"unreadable data file ({err.problem})")
            return
        for c in group:
            problem = check_candidate(reader.header, c.tcand, c.dm, c.width)
            if problem:
                rec.skipped(path, c, problem)
                continue
            geo = geometry(reader.header, c.tcand, c.dm, c.width)
            descending = reader.header.foff < 0
            try:
                if mask == "window":  # the mask needs the window's kept samples first
                    data, padded = read_window(reader, geo, scratch)
                    m = channel_mask(np.ascontiguousarray(data[:, : geo.kept]), "auto", kill)
                    ft, dmt = make_images(data, geo, descending, m)
                    del data
                else:
                    ft, dmt, padded = window_images(reader, geo, descending, fmask, scratch)
            except InputError as err:
                rec.skipped(path, c, err.problem)
                continue
            f_hi, f_lo, pixel_s = image_axes(reader.header, c.width)
            rec.prepared(measure(NewCandidate(
                file=path, tcand=float(c.tcand), dm=float(c.dm), width=int(c.width),
                snr=float(c.snr), label=c.label, padded=padded, origin=c.origin,
                label_source=label_source, f_hi_mhz=f_hi, f_lo_mhz=f_lo, pixel_s=pixel_s),
                ft), ft, dmt)


def prepare_candidates(
    ws: Workspace,
    candidates: Iterable[Candidate],
    *,
    mask: MaskMode = "file",
    kill_mask: str | os.PathLike[str] | None = None,
    batch_size: int = 16,
    progress: bool | None = None,
    on_batch: Callable[[int], None] | None = None,
    label_source: str = "list",
) -> PrepareSummary:
    """Prepare candidates into the workspace ``ws``; returns a :class:`PrepareSummary`.

    ``candidates``: :class:`frbtriage.io.candidates.Candidate` records (any files; grouped
    by file, each opened once). ``mask``: where the SK + IQRM channel flags come from:
    ``"file"`` once per data file (:func:`file_mask`), ``"window"`` each candidate's kept
    samples, ``"none"`` no automatic flags; ``kill_mask``: file of bad channel numbers
    zeroed in every window (your's ``chan_mask_path`` format).
    ``batch_size`` candidates are committed together (each batch atomic). ``progress``:
    tqdm bar (None = only when stderr is a terminal). ``on_batch(n_added_so_far)`` is called
    after each commit. Candidates that cannot be prepared are skipped with a warning naming
    them (bad DM/width, outside the file, unreadable file); nothing raises for them.
    ``label_source``: provenance of the candidates' ``label`` values (``"list"`` for a list's
    label column, ``"simulation"`` for a simulation's truth; :data:`frbtriage.db.LABEL_SOURCES`).
    """
    from tqdm import tqdm

    t_start = time.perf_counter()
    cands = list(candidates)
    summary = PrepareSummary(total=len(cands))
    todo, summary.already = _fresh_by_file(ws, cands)
    if progress is None:
        import sys

        progress = sys.stderr.isatty()
    bar = tqdm(total=sum(len(g) for g in todo.values()), unit="cand", desc="prepare",
               disable=not progress, dynamic_ncols=True, smoothing=0.1)
    rec = _Recorder(ws, summary, bar, batch_size, on_batch)
    scratch = Scratch()
    clock = CompileClock()
    try:
        with clock:
            for f, group in todo.items():
                prepare_file(rec, f, group, mask, kill_mask, scratch, label_source)
                rec.flush()  # a batch holds one file's candidates
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - t_start
    summary.compile_s, summary.compiled = clock.seconds, clock.kernels
    return summary
