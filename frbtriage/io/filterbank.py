"""Sigproc filterbank reading (our own header parser and memory map) and PSRFITS reading
through ``your``, with honest edge padding.

Data come out as float32 ``(nchan, ntime)`` in **file channel order** (``Header.freqs`` gives the
frequency of each row). A window ``[start, stop)`` in samples may reach outside the file: the part
outside is filled with each channel's median of the part inside the window and the amount of
padding is reported in the :class:`Block` (never wrapped around, never silently shifted).

A sigproc header is parsed here (sigproc headers are length-prefixed keyword strings between
``HEADER_START`` and ``HEADER_END``) and the size of the data checked, so that a damaged file
gives one clear :class:`~frbtriage.errors.InputError` instead of a traceback or, worse,
silently misaligned spectra; the data are then one read-only ``numpy.memmap``. ``your`` (whose
import pulls in astropy and scipy.stats, ~1 s) is imported only when a PSRFITS file is opened.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from frbtriage.errors import InputError

log = logging.getLogger(__name__)

#: Bits per sample that ``your`` reads from sigproc files (its ``SigprocFile.dtype``).
SIGPROC_NBITS = (8, 16, 32)
#: Bits per sample that ``your`` reads from PSRFITS files (it unpacks 2 and 4 bit, 1 bit is not).
PSRFITS_NBITS = (2, 4, 8, 16, 32)

SIGPROC_SUFFIXES = (".fil",)
PSRFITS_SUFFIXES = (".fits", ".sf")

# Sigproc header keywords and the type of the value that follows each one
# (sigproc's read_header.c). "" means a marker with no value.
_SIGPROC_KEYS: dict[str, str] = {
    "rawdatafile": "str",
    "source_name": "str",
    "telescope_id": "i",
    "machine_id": "i",
    "data_type": "i",
    "barycentric": "i",
    "pulsarcentric": "i",
    "nbits": "i",
    "nsamples": "i",
    "nchans": "i",
    "nifs": "i",
    "nbeams": "i",
    "ibeam": "i",
    "nbins": "i",
    "tstart": "d",
    "tsamp": "d",
    "fch1": "d",
    "foff": "d",
    "refdm": "d",
    "period": "d",
    "az_start": "d",
    "za_start": "d",
    "src_raj": "d",
    "src_dej": "d",
}
# Keywords ``your`` parses itself; any other keyword it skips by reading 4 bytes, which is
# right only for 4-byte values (int keywords), so only those extra keywords are accepted.
_YOUR_KEYS = {
    "rawdatafile", "source_name", "machine_id", "barycentric", "pulsarcentric", "telescope_id",
    "src_raj", "src_dej", "az_start", "za_start", "data_type", "fch1", "foff", "nchans",
    "nbeams", "ibeam", "nbits", "tstart", "tsamp", "nifs",
}  # fmt: skip
_REQUIRED_KEYS = ("nchans", "nbits", "nifs", "tsamp", "fch1", "foff", "tstart")
_MAX_HEADER_BYTES = 1 << 20
#: Most channels accepted in a header: 64 times CHIME's 16384 (the most of any telescope's
#: search data); a corrupt ``nchans`` beyond it is refused before any size arithmetic.
MAX_NCHANS = 1 << 20


@dataclass(frozen=True)
class Header:
    """What a reader needs to know about a filterbank file.

    Attributes:
        path: the file read.
        fch1: centre frequency of the first channel in the file, MHz.
        foff: channel step in MHz (negative when the first channel is the highest).
        nchans: number of channels.
        tsamp: sampling interval, seconds.
        nspectra: number of time samples in the file.
        tstart: MJD of the first sample.
        nbits: bits per sample on disk.
        source_name: source name from the header ("" when absent).
    """

    path: str
    fch1: float
    foff: float
    nchans: int
    tsamp: float
    nspectra: int
    tstart: float
    nbits: int
    source_name: str

    @property
    def freqs(self) -> NDArray[np.float64]:
        """Channel centre frequencies in MHz in file order, shape ``(nchans,)``."""
        return self.fch1 + np.arange(self.nchans, dtype=np.float64) * self.foff

    @property
    def duration(self) -> float:
        """Length of the file in seconds (``nspectra * tsamp``)."""
        return self.nspectra * self.tsamp


@dataclass
class Block:
    """A window of data read from a file.

    Attributes:
        data: float32 array ``(nchan, ntime)`` in file channel order.
        header: the file's :class:`Header`.
        start: file sample index of column 0 (negative when the window starts before the file).
        pad_before: number of leading columns that lie before the file (filled with medians).
        pad_after: number of trailing columns that lie after the file (filled with medians).
    """

    data: NDArray[np.float32]
    header: Header
    start: int
    pad_before: int
    pad_after: int

    @property
    def padded(self) -> bool:
        """True when any column of ``data`` lies outside the file."""
        return self.pad_before > 0 or self.pad_after > 0

    @property
    def stop(self) -> int:
        """File sample index one past the last column."""
        return self.start + self.data.shape[1]


def _read_string(buf: bytes, pos: int, path: str) -> tuple[str, int]:
    """One length-prefixed sigproc string at byte ``pos``; returns it and the next position."""
    if pos + 4 > len(buf):
        raise InputError(path, "sigproc header ends before HEADER_END (file too short)")
    (n,) = struct.unpack_from("<i", buf, pos)
    if n < 1 or n > 80:
        raise InputError(
            path,
            f"corrupt sigproc header: string length {n} at byte {pos} "
            "(no HEADER_END where one was expected)",
        )
    if pos + 4 + n > len(buf):
        raise InputError(path, "sigproc header ends before HEADER_END (file too short)")
    raw = buf[pos + 4 : pos + 4 + n]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(path, f"corrupt sigproc header: non-text keyword at byte {pos}") from None
    return text, pos + 4 + n


def scan_sigproc_header(path: str | os.PathLike[str]) -> tuple[dict[str, object], int]:
    """Parse a sigproc header without ``your``: returns ``(keywords, header_length_bytes)``.

    Raises :class:`InputError` when the file does not start with ``HEADER_START``, has no
    ``HEADER_END``, holds an unknown keyword or lacks one of nchans, nbits, nifs, tsamp,
    fch1, foff, tstart.
    """
    p = os.fspath(path)
    with open(p, "rb") as fh:
        buf = fh.read(_MAX_HEADER_BYTES)
    if len(buf) < 4:
        raise InputError(p, "not a sigproc filterbank file (too short to hold a header)")
    (n0,) = struct.unpack_from("<i", buf, 0)
    if n0 != len("HEADER_START") or buf[4:16] != b"HEADER_START":
        raise InputError(p, "not a sigproc filterbank file (does not start with HEADER_START)")
    pos = 16
    keys: dict[str, object] = {}
    while True:
        key, pos = _read_string(buf, pos, p)
        if key == "HEADER_END":
            break
        if key in ("FREQUENCY_START", "FREQUENCY_END", "fchannel"):
            raise InputError(p, "sigproc header with a frequency table is not supported")
        kind = _SIGPROC_KEYS.get(key)
        if kind is None or (key not in _YOUR_KEYS and kind != "i"):
            raise InputError(p, f"unsupported sigproc header keyword {key!r} at byte {pos}")
        if kind == "str":
            value, pos = _read_string(buf, pos, p)
            keys[key] = value
        else:
            size = struct.calcsize(kind)
            if pos + size > len(buf):
                raise InputError(p, "sigproc header ends before HEADER_END (file too short)")
            (keys[key],) = struct.unpack_from("<" + kind, buf, pos)
            pos += size
    missing = [k for k in _REQUIRED_KEYS if k not in keys]
    if missing:
        raise InputError(p, f"sigproc header lacks {', '.join(missing)}")
    return keys, pos


def check_header_values(path: str, nchans: int, tsamp: float, fch1: float, foff: float,
                        tstart: float) -> None:
    """Raise :class:`InputError` naming the first header value that cannot describe data:
    ``nchans`` outside ``1..MAX_NCHANS``, ``tsamp`` not > 0, ``foff`` zero, ``fch1`` or
    ``tstart`` not finite, or a band reaching 0 MHz or below. Any of them NaN counts."""
    if not 1 <= nchans <= MAX_NCHANS:
        raise InputError(path, f"invalid nchans={nchans} in header (must be 1..{MAX_NCHANS})")
    if not (math.isfinite(tsamp) and tsamp > 0):
        raise InputError(path, f"invalid tsamp={tsamp} in header (must be > 0 s)")
    if not math.isfinite(foff) or foff == 0:
        raise InputError(path, f"invalid foff={foff} in header (must be non-zero MHz)")
    if not math.isfinite(fch1):
        raise InputError(path, f"invalid fch1={fch1} in header (must be a finite MHz)")
    if not math.isfinite(tstart):
        raise InputError(path, f"invalid tstart={tstart} in header (must be a finite MJD)")
    low = min(fch1, fch1 + (nchans - 1) * foff)
    if low <= 0:
        raise InputError(path, f"invalid band in header: fch1={fch1:g} MHz, foff={foff:g} MHz "
                               f"and {nchans} channels reach {low:g} MHz (must stay > 0)")


def _validate_sigproc(path: str) -> tuple[dict[str, object], int, int]:
    """Check header values and data size; returns ``(keywords, header_bytes, nspectra)``."""
    keys, hdr_len = scan_sigproc_header(path)
    nbits, nchans, nifs = int(keys["nbits"]), int(keys["nchans"]), int(keys["nifs"])  # type: ignore[call-overload]
    if nbits not in SIGPROC_NBITS:
        raise InputError(
            path, f"unsupported nbits={nbits} (sigproc files: {', '.join(map(str, SIGPROC_NBITS))})"
        )
    if nifs not in (1, 4):
        raise InputError(path, f"unsupported nifs={nifs} (expected 1 or 4)")
    tsamp, fch1, foff, tstart = (float(keys[k]) for k in ("tsamp", "fch1", "foff", "tstart"))  # type: ignore[arg-type]
    check_header_values(path, nchans, tsamp, fch1, foff, tstart)
    bytes_per_spectrum = nchans * nifs * nbits // 8
    data_bytes = os.path.getsize(path) - hdr_len
    if data_bytes < bytes_per_spectrum:
        raise InputError(
            path,
            f"truncated filterbank: {data_bytes} data bytes, less than one spectrum "
            f"({bytes_per_spectrum} bytes)",
        )
    nspectra, left = divmod(data_bytes, bytes_per_spectrum)
    if left:
        raise InputError(
            path,
            f"truncated filterbank: {left} bytes left over after {nspectra} whole spectra "
            f"of {bytes_per_spectrum} bytes",
        )
    return keys, hdr_len, nspectra


def fill_nonfinite(data: NDArray[np.float32], need: NDArray[np.integer] | None = None) -> int:
    """Give NaN and infinite samples of ``data`` ``(nchan, ntime)`` zero weight, in place:
    each becomes its channel's mean over the channel's finite samples, and a channel with no
    finite sample becomes 0, as a masked channel is (CHIME's catalogue waterfalls mark masked
    channels with NaN). With ``need`` only ``data[c, :need[c]]`` is looked at. Returns how
    many samples were replaced."""
    finite = np.isfinite(data)
    if need is None:
        bad, good = ~finite, finite
    else:
        inside = np.arange(data.shape[1]) < np.asarray(need)[:, None]
        bad, good = inside & ~finite, inside & finite
    nbad = int(np.count_nonzero(bad))
    if nbad == 0:
        return 0
    count = np.count_nonzero(good, axis=1)
    total = np.where(good, data, 0.0).sum(axis=1, dtype=np.float64)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    rows, cols = np.nonzero(bad)
    data[rows, cols] = mean[rows].astype(np.float32)
    return nbad


def _open_psrfits(path: str) -> Any:
    """Open a PSRFITS file with ``your``, turning its exceptions into :class:`InputError`."""
    import your  # ~1 s (astropy, scipy.stats): only PSRFITS files pay for it

    try:
        return your.Your([path])
    except InputError:
        raise
    except Exception as err:  # your raises bare ValueError/KeyError/OSError on bad files
        raise InputError(path, f"cannot read as PSRFITS: {type(err).__name__}: {err}") from err


class FilterbankReader:
    """An open filterbank or PSRFITS file from which windows are read.

    Opens the file once (sigproc data as a read-only memory map, PSRFITS through ``your``), so
    reading thousands of windows costs no reopening. Use as a context manager::

        with FilterbankReader("obs.fil") as fb:
            block = fb.read(1000, 2024)      # samples [1000, 2024)
            block = fb.read_seconds(0.5, 1.0)

    Raises :class:`InputError` for a missing file, an unknown suffix, a sigproc file without
    ``HEADER_START``/``HEADER_END``, unsupported nbits or truncated data.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        p = Path(self.path)
        if not p.exists():
            raise InputError(self.path, "file not found")
        if not p.is_file():
            raise InputError(self.path, "not a regular file")
        suffix = p.suffix.lower()
        self._mm: NDArray | None = None
        self._fp: Any = None  # the open sigproc file (its size is checked before each read)
        self._your: Any = None  # the your.Your of a PSRFITS file
        if suffix in SIGPROC_SUFFIXES:
            self.format = "fil"
            self._open_sigproc()
        elif suffix in PSRFITS_SUFFIXES:
            self.format = "fits"
            self._open_fits()
        else:
            raise InputError(
                self.path,
                f"unsupported file type {suffix or '(no suffix)'!r}: expected .fil (sigproc) "
                "or .fits/.sf (PSRFITS)",
            )
        #: True when samples may be NaN or infinite (float32 sigproc, any PSRFITS): windows
        #: read then go through :func:`fill_nonfinite`.
        self.may_hold_nonfinite = self.format == "fits" or self.header.nbits == 32

    def _open_sigproc(self) -> None:
        """Header from :func:`scan_sigproc_header`, data as a read-only memory map
        ``(nspectra, nifs, nchans)`` in the file's dtype (uint8/uint16/float32): a window is a
        numpy view, no copy (your's get_data slices an mmap.mmap, copying every window)."""
        keys, hdr_len, nspectra = _validate_sigproc(self.path)
        nbits, nchans, nifs = (int(keys[k]) for k in ("nbits", "nchans", "nifs"))  # type: ignore[call-overload]
        dtype = {8: np.uint8, 16: np.uint16, 32: np.float32}[nbits]
        self._fp = open(self.path, "rb")  # noqa: SIM115 - held until close()
        try:
            self._mm = np.memmap(self._fp, dtype=dtype, mode="r", offset=hdr_len,
                                 shape=(nspectra, nifs, nchans))
        except (OSError, ValueError) as err:
            self.close()
            raise InputError(self.path, f"cannot map the data: {err}") from err
        self._end = hdr_len + self._mm.nbytes  # the file's size when opened
        self.header = Header(
            path=self.path,
            fch1=float(keys["fch1"]),  # type: ignore[arg-type]
            foff=float(keys["foff"]),  # type: ignore[arg-type]
            nchans=nchans,
            tsamp=float(keys["tsamp"]),  # type: ignore[arg-type]
            nspectra=int(nspectra),
            tstart=float(keys["tstart"]),  # type: ignore[arg-type]
            nbits=nbits,
            source_name=str(keys.get("source_name", "")).strip(),
        )

    def _open_fits(self) -> None:
        """Header and reader of a PSRFITS file from ``your``."""
        self._your = _open_psrfits(self.path)
        yh = self._your.your_header
        nbits = int(yh.native_nbits)
        if nbits not in PSRFITS_NBITS:
            self.close()
            raise InputError(self.path, f"unsupported nbits={nbits} for PSRFITS")
        nspectra = int(yh.nspectra)
        try:
            if nspectra < 1:
                raise InputError(self.path, "PSRFITS file holds no spectra")
            check_header_values(self.path, int(yh.nchans), float(yh.tsamp),
                                float(yh.fch1), float(yh.foff), float(yh.tstart))
        except InputError:
            self.close()
            raise
        self.header = Header(
            path=self.path,
            fch1=float(yh.fch1),
            foff=float(yh.foff),
            nchans=int(yh.nchans),
            tsamp=float(yh.tsamp),
            nspectra=nspectra,
            tstart=float(yh.tstart),
            nbits=nbits,
            source_name=str(yh.source_name or "").strip(),
        )

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> FilterbankReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the memory map and file handles (idempotent)."""
        self._mm = None
        fp, self._fp = getattr(self, "_fp", None), None
        if fp is not None:
            fp.close()
        y, self._your = getattr(self, "_your", None), None
        if y is None:
            return
        try:
            y.fits.close()
        except (AttributeError, ValueError, OSError, BufferError):
            pass

    # -- reading -------------------------------------------------------------------------
    def raw(self, start: int, nsamp: int) -> NDArray:
        """In-file samples ``[start, start + nsamp)`` as stored: ``(nsamp, nchans)``, time-major,
        in the file's dtype (uint8 / uint16 / float32 for sigproc; your's unpacked values for
        PSRFITS), total intensity (the first IF of a 4-IF file, as your's ``pol=0``).

        For sigproc files this is a read-only view of the memory-mapped file (no copy), valid
        while the reader is open; for PSRFITS a fresh array from ``your.get_data``. A file that
        grew since it was opened is read as it was then; one cut short raises
        :class:`InputError`."""
        if self._mm is None and self._your is None:
            raise ValueError(f"{self.path}: reader is closed")
        if not (0 <= start and nsamp >= 1 and start + nsamp <= self.header.nspectra):
            raise InputError(self.path, f"raw read of samples [{start}, {start + nsamp}) outside "
                                        f"the file (0..{self.header.nspectra})")
        if self._mm is not None:
            # a memory map of a file cut short under it kills the process (SIGBUS) on access
            size = os.fstat(self._fp.fileno()).st_size
            if size < self._end:
                raise InputError(self.path, f"the file shrank while being read ({self._end} "
                                            f"bytes when opened, {size} now)")
            return np.asarray(self._mm[start : start + nsamp, 0, :])
        try:
            data = self._your.get_data(nstart=start, nsamp=nsamp)
        except Exception as err:  # astropy/your raise many kinds for a damaged or changed file
            raise InputError(self.path, f"read of samples [{start}, {start + nsamp}) failed: "
                                        f"{type(err).__name__}: {err}") from err
        if data.shape != (nsamp, self.header.nchans):
            raise InputError(
                self.path,
                f"read of samples [{start}, {start + nsamp}) returned shape {data.shape}, "
                f"expected {(nsamp, self.header.nchans)}",
            )
        return data

    def read(self, start: int, stop: int) -> Block:
        """Samples ``[start, stop)`` as a :class:`Block` with data ``(nchan, stop - start)``.

        ``start`` may be negative and ``stop`` may exceed ``nspectra``: the columns outside the
        file hold each channel's median over the in-file columns of this window, and
        ``pad_before``/``pad_after`` count them. A window with no sample inside the file, or
        with ``stop <= start``, raises :class:`InputError`.
        """
        start, stop = int(start), int(stop)
        n = self.header.nspectra
        if stop <= start:
            raise InputError(self.path, f"empty window [{start}, {stop}) samples")
        if stop <= 0 or start >= n:
            raise InputError(
                self.path,
                f"window [{start}, {stop}) samples lies wholly outside the file (0..{n})",
            )
        a, b = max(start, 0), min(stop, n)
        raw = self.raw(a, b - a)
        out = np.empty((self.header.nchans, stop - start), dtype=np.float32)
        out[:, a - start : b - start] = raw.T
        if self.may_hold_nonfinite:
            fill_nonfinite(out[:, a - start : b - start])
        pad_before, pad_after = a - start, stop - b
        if pad_before or pad_after:
            med = np.median(out[:, a - start : b - start], axis=1).astype(np.float32)
            out[:, :pad_before] = med[:, None]
            out[:, b - start :] = med[:, None]
        return Block(
            data=out, header=self.header, start=start, pad_before=pad_before, pad_after=pad_after
        )

    def seconds_to_samples(self, t0: float, t1: float) -> tuple[int, int]:
        """Sample window covering ``[t0, t1)`` seconds from the file start.

        Sample ``i`` spans ``[i * tsamp, (i + 1) * tsamp)``; the window holds every sample that
        overlaps the interval (``floor(t0 / tsamp)`` to ``ceil(t1 / tsamp)``), with times within
        1e-6 sample of a boundary snapped to it so that float rounding never adds a sample.
        """
        ts = self.header.tsamp

        def snap(x: float) -> float:
            r = round(x)
            return float(r) if abs(x - r) < 1e-6 else x

        return math.floor(snap(t0 / ts)), math.ceil(snap(t1 / ts))

    def read_seconds(self, t0: float, t1: float) -> Block:
        """Window ``[t0, t1)`` in seconds from the file start; see :meth:`seconds_to_samples`."""
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise InputError(self.path, f"window [{t0}, {t1}) s is not finite")
        start, stop = self.seconds_to_samples(t0, t1)
        return self.read(start, stop)


def read_header(path: str | os.PathLike[str]) -> Header:
    """The :class:`Header` of a sigproc or PSRFITS file (checks as in :class:`FilterbankReader`)."""
    with FilterbankReader(path) as fb:
        return fb.header


def read_window(
    path: str | os.PathLike[str],
    start: float,
    stop: float,
    unit: Literal["samples", "seconds"] = "samples",
) -> Block:
    """One window ``[start, stop)`` of a file in ``unit``; for many windows keep a
    :class:`FilterbankReader` open instead."""
    if unit not in ("samples", "seconds"):
        raise ValueError(f"unit must be 'samples' or 'seconds', not {unit!r}")
    with FilterbankReader(path) as fb:
        if unit == "samples":
            return fb.read(int(start), int(stop))
        return fb.read_seconds(float(start), float(stop))
