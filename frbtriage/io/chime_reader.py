"""A stream of CHIME/FRB msgpack chunks of one beam, read like a filterbank file.

:class:`ChunkReader` takes a folder of ``*.msgpack`` chunk files (or a list of them), orders
them by ``fpga0``, checks they belong to one beam and share one layout, and offers what
``prepare`` and ``search`` use from :class:`frbtriage.io.filterbank.FilterbankReader`: a
:class:`~frbtriage.io.filterbank.Header` (``fch1``/``foff``/``nchans``/``tsamp``/
``nspectra``/``tstart``), ``read(start, stop)`` returning a
:class:`~frbtriage.io.filterbank.Block` and ``raw(start, nsamp)``.

* Sample 0 is the first sample of the earliest chunk; sample ``i`` lies at FPGA count
  ``fpga0_first + i * fpga_counts_per_sample * binning``. ``tstart`` is the MJD of sample 0
  from ``frame0_nano + 2560 ns * fpga0`` (version 2 chunks); version 1 chunks carry no
  ``frame0_nano`` and get ``tstart = 0``.
* Channels are in file order as the chunks hold them: channel 0 is the highest frequency,
  ``foff = -400 MHz / nchans``, ``fch1 = 800 MHz + foff / 2`` (CHIME's band, channel centres).
* Masked samples (byte 0 or 255, the version 2 RFI mask, missing chunks) are replaced by the
  channel's mean over the good samples of the window read (so they add no structure);
  :meth:`ChunkReader.mask` gives them. Samples asked for outside the stream are filled the
  same way and counted in ``Block.pad_before``/``pad_after``.
* A gap between chunks (missing fpga counts) is kept as masked samples, listed in
  :attr:`ChunkReader.gaps` and logged once; chunks that overlap are an error.
* Memory: files are memory-mapped; a read decodes only the chunks its window touches, and
  at most ``cache_chunks`` loaded chunks are kept (a compressed one is 16 MB unpacked).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.typing import NDArray

from frbtriage.errors import InputError
from frbtriage.io.chime_msgpack import (
    FPGA_COUNT_NS,
    AssembledChunk,
    ChunkInfo,
    decode_columns,
    load_chunk,
    scan_chunk,
    unix_to_mjd,
)
from frbtriage.io.filterbank import Block, FilterbankReader, Header
from frbtriage.physics import CHIME_FBOTTOM_MHZ, CHIME_FTOP_MHZ

log = logging.getLogger(__name__)

CHUNK_SUFFIX = ".msgpack"


def chunk_paths(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """The chunk files of ``source``: a folder (its ``*.msgpack`` files), one chunk file, a
    list of chunk files, or such a list joined by ``os.pathsep`` (what
    :attr:`ChunkReader.path` holds for a list)."""
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        if os.pathsep in s and not os.path.exists(s):
            return [p for p in s.split(os.pathsep) if p]
        if os.path.isdir(s):
            found = sorted(os.fspath(p) for p in Path(s).glob("*" + CHUNK_SUFFIX))
            if not found:
                raise InputError(s, f"folder holds no CHIME chunk files (*{CHUNK_SUFFIX})")
            return found
        return [s]
    paths = [os.fspath(p) for p in source]
    if not paths:
        raise InputError(None, "no CHIME chunk files given")
    return paths


class ChunkReader:
    """Consecutive CHIME msgpack chunks of one beam as one data stream (see module doc).

    ``source``: folder, chunk file, or list of chunk files. ``cache_chunks``: loaded chunks
    kept between reads. Raises :class:`InputError` for a missing, corrupt or unknown-version
    chunk, chunks of different beams or layouts, or overlapping chunks.
    """

    format = "chime"
    #: Decoded intensities are always finite (masked samples read as their channel's mean),
    #: so prepare never needs to look for NaN/Inf here (cf. ``FilterbankReader``).
    may_hold_nonfinite = False

    def __init__(self, source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 cache_chunks: int = 8) -> None:
        paths = chunk_paths(source)
        if isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
        else:
            self.path = os.pathsep.join(paths)
        infos = sorted((scan_chunk(p) for p in paths), key=lambda i: i.fpga0)
        first = infos[0]
        for info in infos[1:]:
            if info.beam_id != first.beam_id:
                raise InputError(info.path, f"chunk of beam {info.beam_id} among chunks of "
                                            f"beam {first.beam_id} ({first.path}): one beam "
                                            "per stream")
            if info.layout != first.layout:
                raise InputError(info.path, f"chunk layout (nupfreq, nt_per_packet, "
                                            f"fpga_counts_per_sample, nt_coarse, binning) "
                                            f"{info.layout} differs from {first.layout} of "
                                            f"{first.path}")
        self._infos: list[ChunkInfo] = infos
        self._starts = self._place(infos)
        self.gaps: list[tuple[int, int]] = [
            (int(a + i.nt), int(b)) for i, a, b in zip(infos, self._starts, self._starts[1:],
                                                       strict=False) if b > a + i.nt]
        for a, b in self.gaps:
            log.warning("%s: %d missing samples (%.3f s) at samples %d..%d are masked",
                        self.path, b - a, (b - a) * first.tsamp, a, b)
        frame0 = next((i.frame0_nano for i in infos if i.frame0_nano), 0)
        nchans = first.nfreq
        foff = -(CHIME_FTOP_MHZ - CHIME_FBOTTOM_MHZ) / nchans
        tstart = unix_to_mjd((frame0 + FPGA_COUNT_NS * first.fpga0) * 1e-9) if frame0 else 0.0
        self.header = Header(
            path=self.path, fch1=CHIME_FTOP_MHZ + foff / 2, foff=foff, nchans=nchans,
            tsamp=first.tsamp, nspectra=int(self._starts[-1] + infos[-1].nt), tstart=tstart,
            nbits=8, source_name=f"CHIME beam {first.beam_id}")
        self.beam_id = first.beam_id
        self._cache: OrderedDict[int, AssembledChunk] = OrderedDict()
        self._cache_chunks = max(1, int(cache_chunks))
        self._open = True

    @staticmethod
    def _place(infos: list[ChunkInfo]) -> NDArray[np.int64]:
        """Stream sample index of each chunk's first sample (sorted by ``fpga0``)."""
        per = infos[0].fpga_counts_per_sample * infos[0].binning
        starts = []
        for prev, info in zip([None, *infos], infos, strict=False):
            off, rest = divmod(info.fpga0 - infos[0].fpga0, per)
            if rest:
                raise InputError(info.path, f"fpga0 {info.fpga0} is not on the sample grid of "
                                            f"{infos[0].path} (fpga0 {infos[0].fpga0})")
            if prev is not None and info.fpga0 < prev.fpga0 + prev.fpgaN:
                raise InputError(info.path, f"chunk overlaps {prev.path} (fpga0 {info.fpga0} "
                                            f"< {prev.fpga0} + {prev.fpgaN}): duplicate chunk?")
            starts.append(off)
        return np.asarray(starts, dtype=np.int64)

    @property
    def fpga0(self) -> int:
        """FPGA count of sample 0 (the earliest chunk's ``fpga0``)."""
        return int(self._infos[0].fpga0)

    @property
    def fpga_counts_per_sample(self) -> int:
        """FPGA counts per stream sample: ``fpga_counts_per_sample * binning`` (384 for
        CHIME's 0.98304 ms)."""
        return int(self._infos[0].fpga_counts_per_sample * self._infos[0].binning)

    @property
    def unix_start(self) -> float | None:
        """Unix time (s) of sample 0, ``(frame0_nano + 2560 ns x fpga0) 1e-9``; None for
        version 1 chunks (no ``frame0_nano``)."""
        frame0 = next((i.frame0_nano for i in self._infos if i.frame0_nano), 0)
        return (frame0 + FPGA_COUNT_NS * self.fpga0) * 1e-9 if frame0 else None

    @property
    def chunk_files(self) -> list[str]:
        """The chunk files in stream order."""
        return [i.path for i in self._infos]

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Drop the loaded chunks (idempotent)."""
        self._cache.clear()
        self._open = False

    # -- reading ---------------------------------------------------------------------------
    def _chunk(self, k: int) -> AssembledChunk:
        """Chunk ``k`` (stream order), loaded through the small LRU cache."""
        ch = self._cache.pop(k, None)
        if ch is None:
            ch = load_chunk(self._infos[k])
        self._cache[k] = ch
        while len(self._cache) > self._cache_chunks:
            self._cache.popitem(last=False)
        return ch

    def _decode(self, start: int, stop: int) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """``(data, good)`` ``(nchans, stop - start)`` for any window; samples outside the
        stream and in gaps are not good (their data is 0)."""
        if not self._open:
            raise ValueError(f"{self.path}: reader is closed")
        n = stop - start
        data = np.zeros((self.header.nchans, n), dtype=np.float32)
        good = np.zeros((self.header.nchans, n), dtype=bool)
        for k, s0, a, b in self._touching(start, stop):
            x, g = decode_columns(self._chunk(k), a, b)
            data[:, s0 + a - start : s0 + b - start] = x
            good[:, s0 + a - start : s0 + b - start] = g
        return data, good

    def mask(self, start: int, stop: int) -> NDArray[np.bool_]:
        """Masked samples of ``[start, stop)``: ``(nchans, stop - start)`` bool, True = bad
        (byte 0/255, RFI mask, gap, outside the stream)."""
        return ~self._decode(int(start), int(stop))[1]

    def read(self, start: int, stop: int) -> Block:
        """Samples ``[start, stop)`` as a :class:`Block` ``(nchans, stop - start)`` float32;
        masked samples and samples outside the stream hold the channel's mean over the good
        samples of the window (the mean of all good samples for a channel with none; 0 when
        the window has no good sample). :class:`InputError` for an empty window or one
        wholly outside the stream."""
        start, stop = int(start), int(stop)
        n = self.header.nspectra
        if stop <= start:
            raise InputError(self.path, f"empty window [{start}, {stop}) samples")
        if stop <= 0 or start >= n:
            raise InputError(self.path, f"window [{start}, {stop}) samples lies wholly outside "
                                        f"the chunks (0..{n})")
        data, good = self._decode(start, stop)
        _fill_masked(data, good)
        return Block(data=data, header=self.header, start=start,
                     pad_before=max(0, -start), pad_after=max(0, stop - n))

    def raw(self, start: int, nsamp: int) -> NDArray[np.float32]:
        """In-stream samples ``[start, start + nsamp)`` time-major ``(nsamp, nchans)``
        float32 (a transposed view of :meth:`read`'s data: decoded intensities, masked
        samples filled), as :meth:`FilterbankReader.raw` gives them."""
        if not (0 <= start and nsamp >= 1 and start + nsamp <= self.header.nspectra):
            raise InputError(self.path, f"raw read of samples [{start}, {start + nsamp}) "
                                        f"outside the chunks (0..{self.header.nspectra})")
        return self.read(start, start + nsamp).data.T

    def read_ragged(self, start: int, count: NDArray[np.int64], out: NDArray[np.float32]
                    ) -> None:
        """Fill ``out[c, :count[c]]`` with in-stream samples ``[start, start + count[c])`` of
        channel ``c``, without decoding the rest. Good samples are what
        ``read(start, start + max(count)).data[c, :count[c]]`` holds, bit for bit; masked
        ones hold the channel's mean over the good samples it reads here (its first
        ``count[c]``; all channels' mean over theirs for a channel with none, 0 when there
        is none at all): :meth:`read`'s rule with the window each channel reads, so that
        with every ``count[c] = max(count)`` the two agree.

        ``count`` ``(nchans,)`` int64 samples per channel; ``out`` ``(nchans, >= max(count))``
        float32 with contiguous rows (the rest of each row is left as it was). One pass:
        :func:`frbtriage.kernels.chunks.decode_ragged` decodes chunk by chunk and sums the
        good samples as it goes; only channels with a masked sample are visited again
        (:func:`~frbtriage.kernels.chunks.fill_nan`), no memory beyond ``out`` and the
        chunk cache."""
        from frbtriage.kernels.chunks import decode_ragged, fill_nan

        count = np.asarray(count, dtype=np.int64)
        nchans = self.header.nchans
        ncol = int(count.max()) if count.size else 0
        if count.shape != (nchans,) or ncol < 1 or count.min() < 0:
            raise ValueError(f"count must be ({nchans},) non-negative with a positive maximum")
        if not (0 <= start and start + ncol <= self.header.nspectra):
            raise InputError(self.path, f"read of samples [{start}, {start + ncol}) outside "
                                        f"the chunks (0..{self.header.nspectra})")
        if not self._open:
            raise ValueError(f"{self.path}: reader is closed")
        nbad = np.zeros(nchans, dtype=np.int64)
        sums = np.zeros(nchans, dtype=np.float64)
        for k, s0, _a, _b in self._touching(start, start + ncol):
            ch = self._chunk(k)
            decode_ragged(ch.data, ch.scales, ch.offsets, ch.rfi_mask, s0 - start, count, out,
                          nbad, sums)
        for a, b in self.gaps:  # missing samples are masked
            x0, x1 = max(a, start) - start, min(b, start + ncol) - start
            if x1 <= x0:
                continue
            for c in np.flatnonzero(count > x0):
                n = min(x1, int(count[c])) - x0
                out[c, x0 : x0 + n] = np.nan
                nbad[c] += n
        rows = np.flatnonzero(nbad)
        if rows.size:
            fill_nan(out, count, rows, _levels(sums, count - nbad, rows))

    def _touching(self, start: int, stop: int) -> list[tuple[int, int, int, int]]:
        """``(chunk, its first stream sample, a, b)`` for each chunk overlapping samples
        ``[start, stop)``, ``[a, b)`` the overlap in chunk samples."""
        ends = self._starts + np.array([i.nt for i in self._infos])
        out = []
        for k in np.flatnonzero((self._starts < stop) & (ends > start)):
            s0 = int(self._starts[k])
            out.append((int(k), s0, max(start, s0) - s0, min(stop, int(ends[k])) - s0))
        return out

    def seconds_to_samples(self, t0: float, t1: float) -> tuple[int, int]:
        """As :meth:`FilterbankReader.seconds_to_samples` (same rule, this header's tsamp)."""
        return FilterbankReader.seconds_to_samples(self, t0, t1)  # type: ignore[arg-type]

    def read_seconds(self, t0: float, t1: float) -> Block:
        """Window ``[t0, t1)`` seconds from sample 0 (see :meth:`seconds_to_samples`)."""
        start, stop = self.seconds_to_samples(t0, t1)
        return self.read(start, stop)


def _levels(sums: NDArray[np.float64], ngood: NDArray[np.int64], rows: NDArray[np.int64]
            ) -> NDArray[np.float32]:
    """Fill level of channels ``rows``: each one's mean good sample ``sums / ngood``, the
    mean over all channels' good samples for one with none (0 when there is none), as
    :func:`_fill_masked` computes it for a whole window. ``(len(rows),)`` float32."""
    n = ngood[rows]
    level = sums[rows] / np.maximum(n, 1)
    if not n.all():
        level[n == 0] = sums.sum() / ngood.sum() if ngood.sum() else 0.0
    return level.astype(np.float32)


def _fill_masked(data: NDArray[np.float32], good: NDArray[np.bool_]) -> None:
    """In place: each bad sample of ``data`` ``(nchan, ntime)`` becomes its channel's mean
    over the good samples (all good samples' mean for a channel without any; 0 if none)."""
    bad = ~good
    if not bad.any():
        return
    data[bad] = 0.0
    count = good.sum(axis=1)
    total = data.sum(axis=1, dtype=np.float64)
    overall = total.sum() / count.sum() if count.sum() else 0.0
    level = np.where(count > 0, total / np.maximum(count, 1), overall).astype(np.float32)
    np.copyto(data, np.broadcast_to(level[:, None], data.shape), where=bad)


def convert_to_sigproc(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                       out: str | os.PathLike[str], nchan: int | None = None,
                       block: int = 1024) -> Header:
    """Write the chunk stream ``source`` as a 32-bit float sigproc filterbank ``out``
    (atomically), channels averaged down to ``nchan`` (a divisor of the chunks' channel count;
    None keeps them all), ``block`` samples at a time. Masked samples are written as
    :meth:`ChunkReader.read` fills them. Returns the header of the written file."""
    from your.formats.filwriter import make_sigproc_object
    from your.formats.pysigproc import SigprocFile

    from frbtriage.io.filterbank import read_header
    from frbtriage.safe_write import replacing

    with ChunkReader(source) as rd:
        h = rd.header
        nout = h.nchans if nchan is None else int(nchan)
        if nout < 1 or h.nchans % nout:
            raise InputError(os.fspath(out), f"--nchan {nout} does not divide the chunks' "
                                             f"{h.nchans} channels")
        group = h.nchans // nout
        foff = h.foff * group
        sig = make_sigproc_object(rawdatafile=os.path.basename(h.path.rstrip(os.sep)),
                                  source_name=h.source_name, nchans=nout, foff=foff,
                                  fch1=CHIME_FTOP_MHZ + foff / 2, tsamp=h.tsamp,
                                  tstart=h.tstart, nbits=32, nbeams=1, ibeam=rd.beam_id)
        with replacing(out) as tmp:
            sig.write_header(os.fspath(tmp))
            for a in range(0, h.nspectra, block):
                d = rd.read(a, min(a + block, h.nspectra)).data
                d = d.reshape(nout, group, -1).mean(axis=1, dtype=np.float32)
                SigprocFile.append_spectra(np.ascontiguousarray(d.T), os.fspath(tmp))
    return read_header(out)
