"""CHIME/FRB L1 intensity callback data: ch_frb_io ``assembled_chunk`` msgpack files.

One file holds one *assembled chunk* of one beam: ``nfreq = 1024 * nupfreq`` channels (16384
for CHIME) x ``nt = nt_coarse * nt_per_packet`` samples (1024), 8-bit, with one float32
``scale`` and ``offset`` per coarse channel (``nupfreq`` = 16 fine channels) and per packet
(``nt_per_packet`` = 16 samples)::

    intensity[f, t] = offsets[f // nupfreq, t // nt_per_packet]
                      + scales[f // nupfreq, t // nt_per_packet] * data[f, t]

Row 0 is the **highest** frequency (800 MHz). A sample whose byte is 0 or 255 has weight 0
(masked), as in ch_frb_io's ``assembled_chunk::decode``. One sample lasts
``fpga_counts_per_sample`` (384) FPGA counts of 2.56 us = 0.98304 ms (times ``binning`` for a
chunk downsampled in time).

The file is one msgpack array, laid out as ch_frb_io's ``pack_assembled_chunk``
(``assembled_chunk_msgpack.hpp``) writes it:

====  ==========================  =================================================
item  field                       msgpack type
====  ==========================  =================================================
0     ``"assembled_chunk in msgpack format"``  str
1     version (1 or 2)            uint8
2     compression (0 none, 1 bitshuffle + LZ4)  uint8
3     data size in bytes (compressed size when compressed)  int
4     beam_id                     int
5     nupfreq                     int
6     nt_per_packet               int
7     fpga_counts_per_sample      int
8     nt_coarse                   int
9     nscales = 1024 * nt_coarse  int
10    ndata = nfreq * nt          int
11    fpga0 (first FPGA count)    uint64
12    fpgaN (FPGA counts spanned) uint64
13    binning                     int
14    scales                      bin, ``nscales`` little-endian float32
15    offsets                     bin, ``nscales`` little-endian float32
16    data                        bin, ``ndata`` uint8 (or the bitshuffle-LZ4 stream)
17    frame0_nano (v2)            uint64, Unix time in ns of FPGA count 0
18    nrfifreq (v2)               int, channels of the RFI mask (0 = none)
19    has_rfi_mask (v2)           bool
20    rfi_mask (v2)               bin, ``nrfifreq * nt / 8`` bytes
====  ==========================  =================================================

The RFI mask is ``(nrfifreq, nt / 8)`` bytes, row 0 the highest frequency; bit ``t % 8``
(least significant first) of byte ``t // 8`` is sample ``t``, **1 = good**; each mask row
covers ``nfreq / nrfifreq`` channels. It is used only when ``has_rfi_mask`` is true
(ch_frb_io writes the bytes of a chunk whose mask was never filled in, too).

Compressed data is the raw stream of ``bshuf_compress_lz4(data, ndata, elem_size=1,
block_size=0)`` (no HDF5 filter header); ch_frb_io writes the chunk uncompressed when
compression does not shrink it, and so does :func:`pack_chunk`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from frbtriage.errors import InputError

HEADER_STRING = "assembled_chunk in msgpack format"
#: Seconds per FPGA count (a 390.625 kHz frame rate).
FPGA_COUNT_S = 2.56e-6
#: Nanoseconds per FPGA count.
FPGA_COUNT_NS = 2560
#: Coarse (FPGA) channels of CHIME; ``nfreq = NFREQ_COARSE * nupfreq``.
NFREQ_COARSE = 1024
#: Samples per assembled chunk in ch_frb_io (``constants::nt_per_assembled_chunk``).
NT_PER_CHUNK = 1024
COMP_NONE = 0
COMP_BITSHUFFLE = 1
#: Number of msgpack items of each version.
NITEMS = {1: 17, 2: 21}
_FIXED_ITEMS = 14  # items 0..13: the header before the three bins


def bitshuffle_module() -> Any:
    """The ``bitshuffle`` module, or :class:`InputError` saying what to install."""
    try:
        import bitshuffle
    except ImportError as err:  # pragma: no cover - bitshuffle is a dependency
        raise InputError(None, "compressed CHIME chunks need the bitshuffle package: "
                               "pip install 'bitshuffle>=0.5'") from err
    return bitshuffle


@dataclass
class AssembledChunk:
    """One assembled chunk of one beam, as stored.

    Attributes:
        beam_id: CHIME beam number.
        fpga0: FPGA count of the first sample.
        data: ``(nfreq, nt)`` uint8, row 0 = highest frequency; 0 and 255 mean "masked".
        scales, offsets: ``(1024, nt_coarse)`` float32 per coarse channel and packet.
        nupfreq: fine channels per coarse channel (16 for CHIME's 16384 channels).
        nt_per_packet: samples sharing one scale/offset (16).
        fpga_counts_per_sample: FPGA counts per sample before binning (384).
        binning: time downsampling of the chunk (1, 2, 4 or 8).
        frame0_nano: Unix time in ns of FPGA count 0 (version 2; 0 when unknown).
        rfi_mask: ``(nrfifreq, nt)`` bool, True = good, or None (version 2 only).
        version: msgpack layout version, 1 or 2.
    """

    beam_id: int
    fpga0: int
    data: NDArray[np.uint8]
    scales: NDArray[np.float32]
    offsets: NDArray[np.float32]
    nupfreq: int = 16
    nt_per_packet: int = 16
    fpga_counts_per_sample: int = 384
    binning: int = 1
    frame0_nano: int = 0
    rfi_mask: NDArray[np.bool_] | None = None
    version: int = 2

    @property
    def nfreq(self) -> int:
        """Fine channels (16384 for CHIME)."""
        return int(self.data.shape[0])

    @property
    def nt(self) -> int:
        """Samples in the chunk (1024)."""
        return int(self.data.shape[1])

    @property
    def nt_coarse(self) -> int:
        """Packets (scale/offset columns) in the chunk."""
        return self.nt // self.nt_per_packet

    @property
    def nrfifreq(self) -> int:
        """Rows of the RFI mask (0 when there is none)."""
        return 0 if self.rfi_mask is None else int(self.rfi_mask.shape[0])

    @property
    def fpgaN(self) -> int:  # noqa: N802 - ch_frb_io's name
        """FPGA counts the chunk spans: ``nt * fpga_counts_per_sample * binning``."""
        return self.nt * self.fpga_counts_per_sample * self.binning

    @property
    def tsamp(self) -> float:
        """Sample length in seconds (0.98304 ms for CHIME, times ``binning``)."""
        return self.fpga_counts_per_sample * self.binning * FPGA_COUNT_S

    def unix_start(self) -> float:
        """Unix time (s) of the chunk's first sample: ``(frame0_nano + 2560 fpga0) 1e-9``."""
        return (self.frame0_nano + FPGA_COUNT_NS * self.fpga0) * 1e-9

    def decode(self) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """``(intensity, good)``, each ``(nfreq, nt)``: intensity = offset + scale x data;
        ``good`` False where the byte is 0 or 255 or the RFI mask says bad."""
        return decode_columns(self, 0, self.nt)


def decode_columns(ch: AssembledChunk, a: int, b: int
                   ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Samples ``[a, b)`` of a chunk: ``(intensity, good)``, each ``(nfreq, b - a)``
    (float32 and bool; see :meth:`AssembledChunk.decode`)."""
    nfc, nup, ntp = NFREQ_COARSE, ch.nupfreq, ch.nt_per_packet
    cols = np.arange(a, b) // ntp
    d = ch.data[:, a:b]
    x = d.reshape(nfc, nup, b - a).astype(np.float32)
    x *= ch.scales[:, None, cols]
    x += ch.offsets[:, None, cols]
    good = (d != 0) & (d != 255)
    if ch.rfi_mask is not None:
        per = ch.nfreq // ch.nrfifreq
        good.reshape(ch.nrfifreq, per, b - a)[...] &= ch.rfi_mask[:, None, a:b]
    return x.reshape(ch.nfreq, b - a), good


def encode_chunk(intensity: NDArray[np.floating], *, beam_id: int, fpga0: int,
                 good: NDArray[np.bool_] | None = None, nupfreq: int = 16,
                 nt_per_packet: int = 16, fpga_counts_per_sample: int = 384,
                 frame0_nano: int = 0, rfi_mask: NDArray[np.bool_] | None = None,
                 version: int = 2) -> AssembledChunk:
    """Quantise float intensities ``(1024 * nupfreq, nt)`` (row 0 = highest frequency) into a
    chunk the way L1 does: per coarse channel and packet, ``scale = 0.04 rms`` (25 levels per
    sigma, ch_frb_io's downsampling rule) and ``offset = mean - 128 scale``; values clipped to
    1..254; samples where ``good`` is False are written as 0 (masked). ``rfi_mask``
    ``(nrfifreq, nt)`` True = good goes into a version 2 file as is."""
    x = np.asarray(intensity, dtype=np.float64)
    nfreq, nt = x.shape
    if nfreq != NFREQ_COARSE * nupfreq or nt % nt_per_packet or nt % 8:
        raise ValueError(f"intensity shape {x.shape} does not fit nupfreq={nupfreq}, "
                         f"nt_per_packet={nt_per_packet}")
    ntc = nt // nt_per_packet
    blocks = x.reshape(NFREQ_COARSE, nupfreq, ntc, nt_per_packet)
    mean = blocks.mean(axis=(1, 3))
    rms = blocks.std(axis=(1, 3))
    scale = np.where(rms > 0, 0.04 * rms, 1.0).astype(np.float32)
    offset = (mean - 128.0 * scale).astype(np.float32)
    q = (blocks - offset[:, None, :, None]) / scale[:, None, :, None]
    data = np.clip(np.rint(q), 1, 254).astype(np.uint8).reshape(nfreq, nt)
    if good is not None:
        data[~np.asarray(good, dtype=bool)] = 0
    return AssembledChunk(beam_id=beam_id, fpga0=fpga0, data=data, scales=scale,
                          offsets=offset, nupfreq=nupfreq, nt_per_packet=nt_per_packet,
                          fpga_counts_per_sample=fpga_counts_per_sample,
                          frame0_nano=frame0_nano, rfi_mask=rfi_mask, version=version)


# --------------------------------------------------------------------------- writing


def _pack_mask(mask: NDArray[np.bool_]) -> bytes:
    """``(nrfifreq, nt)`` bool to ch_frb_io's bit order (bit ``t % 8`` of byte ``t // 8``)."""
    return np.packbits(np.asarray(mask, dtype=bool), axis=1, bitorder="little").tobytes()


def pack_chunk(ch: AssembledChunk, compress: bool = False) -> bytes:
    """The msgpack bytes of ``ch``, byte for byte as ch_frb_io's ``pack_assembled_chunk``
    writes them (msgpack picks the smallest encoding of each int in both). ``compress``:
    bitshuffle + LZ4 the data, kept only when it shrinks (as ch_frb_io does)."""
    import msgpack

    if ch.version not in NITEMS:
        raise ValueError(f"version must be 1 or 2, not {ch.version}")
    if ch.version == 1 and ch.rfi_mask is not None:
        raise ValueError("an RFI mask needs version 2")
    raw = np.ascontiguousarray(ch.data, dtype=np.uint8)
    payload, comp = raw.tobytes(), COMP_NONE
    if compress:
        packed = bitshuffle_module().compress_lz4(raw.reshape(-1), 0).tobytes()
        if len(packed) < len(payload):
            payload, comp = packed, COMP_BITSHUFFLE
    nscales = NFREQ_COARSE * ch.nt_coarse
    items: list[Any] = [
        HEADER_STRING, ch.version, comp, len(payload), int(ch.beam_id), int(ch.nupfreq),
        int(ch.nt_per_packet), int(ch.fpga_counts_per_sample), ch.nt_coarse, nscales,
        ch.nfreq * ch.nt, int(ch.fpga0), ch.fpgaN, int(ch.binning),
        np.ascontiguousarray(ch.scales, dtype="<f4").tobytes(),
        np.ascontiguousarray(ch.offsets, dtype="<f4").tobytes(),
        payload,
    ]
    if ch.version == 2:
        mask = b"" if ch.rfi_mask is None else _pack_mask(ch.rfi_mask)
        items += [int(ch.frame0_nano), ch.nrfifreq, ch.rfi_mask is not None, mask]
    return msgpack.packb(items, use_bin_type=True)


def write_chunk(path: str | os.PathLike[str], ch: AssembledChunk, compress: bool = False
                ) -> None:
    """Write ``ch`` as a msgpack file (atomically, through :mod:`frbtriage.safe_write`)."""
    from frbtriage.safe_write import write_bytes

    write_bytes(path, pack_chunk(ch, compress))


def chunk_filename(ch: AssembledChunk) -> str:
    """ch_frb_l1's usual name: ``chunk-BEAM-FPGA0.msgpack`` (beam 4 digits, fpga0 12)."""
    return f"chunk-{ch.beam_id:04d}-{ch.fpga0:012d}.msgpack"


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ChunkInfo:
    """A chunk file's header and where its arrays lie, without reading the data.

    ``scales_at``/``offsets_at``/``data_at``/``mask_at`` are byte offsets of the bins'
    bodies; ``data_size`` the data bin's length (compressed size when ``compression`` is 1).
    """

    path: str
    version: int
    compression: int
    data_size: int
    beam_id: int
    nupfreq: int
    nt_per_packet: int
    fpga_counts_per_sample: int
    nt_coarse: int
    fpga0: int
    fpgaN: int  # noqa: N815 - ch_frb_io's name
    binning: int
    scales_at: int
    offsets_at: int
    data_at: int
    frame0_nano: int = 0
    nrfifreq: int = 0
    has_rfi_mask: bool = False
    mask_at: int = 0

    @property
    def nt(self) -> int:
        """Samples in the chunk."""
        return self.nt_coarse * self.nt_per_packet

    @property
    def nfreq(self) -> int:
        """Fine channels."""
        return NFREQ_COARSE * self.nupfreq

    @property
    def tsamp(self) -> float:
        """Seconds per sample."""
        return self.fpga_counts_per_sample * self.binning * FPGA_COUNT_S

    @property
    def layout(self) -> tuple[int, int, int, int, int]:
        """What chunks joined in one stream must share."""
        return (self.nupfreq, self.nt_per_packet, self.fpga_counts_per_sample, self.nt_coarse,
                self.binning)


def _bin_at(buf: bytes | memoryview, pos: int, path: str, what: str) -> tuple[int, int]:
    """A msgpack bin at ``pos``: ``(body offset, length)``."""
    if pos >= len(buf):
        raise InputError(path, f"corrupt CHIME chunk: file ends before the {what}")
    tag = buf[pos]
    sizes = {0xC4: 1, 0xC5: 2, 0xC6: 4}
    if tag not in sizes:
        raise InputError(path, f"corrupt CHIME chunk: the {what} is not msgpack bytes "
                               f"(type byte 0x{tag:02x} at {pos})")
    k = sizes[tag]
    n = int.from_bytes(bytes(buf[pos + 1 : pos + 1 + k]), "big")
    if pos + 1 + k + n > len(buf):
        raise InputError(path, f"corrupt CHIME chunk: the {what} ({n} bytes) runs past the end "
                               f"of the file (truncated?)")
    return pos + 1 + k, n


def _ints(path: str, items: list[Any]) -> list[int]:
    """Items 1..13 as ints, or a clear error."""
    out = []
    for i, v in enumerate(items[1:], start=1):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InputError(path, f"corrupt CHIME chunk: header item {i} is {v!r}, "
                                   "expected a non-negative integer")
        out.append(v)
    return out


def _check_layout(path: str, version: int, comp: int, v: list[int]) -> None:
    """The consistency checks ch_frb_io's unpacker makes, as :class:`InputError`."""
    _, _, data_size, _, nupfreq, ntp, fcps, ntc, nscales, ndata, _, fpgan, binning = v
    if comp not in (COMP_NONE, COMP_BITSHUFFLE):
        raise InputError(path, f"unknown CHIME chunk compression {comp} (expected 0 or 1)")
    bad = []
    if not (nupfreq >= 1 and ntp >= 1 and fcps >= 1 and ntc >= 1 and binning >= 1):
        bad.append("nupfreq, nt_per_packet, fpga_counts_per_sample, nt_coarse and binning "
                   "must be >= 1")
    elif nscales != NFREQ_COARSE * ntc:
        bad.append(f"nscales {nscales} != 1024 x nt_coarse {ntc}")
    elif ndata != NFREQ_COARSE * nupfreq * ntc * ntp:
        bad.append(f"ndata {ndata} != nfreq {NFREQ_COARSE * nupfreq} x nt {ntc * ntp}")
    elif fpgan != ntc * ntp * fcps * binning:
        bad.append(f"fpgaN {fpgan} != nt x fpga_counts_per_sample x binning")
    elif comp == COMP_NONE and data_size != ndata:
        bad.append(f"data size {data_size} != ndata {ndata} in an uncompressed chunk")
    elif (ntc * ntp) % 8:
        bad.append(f"nt {ntc * ntp} is not a multiple of 8")
    if bad:
        raise InputError(path, f"corrupt CHIME chunk (version {version}): {bad[0]}")


def _head(path: str, buf: bytes | memoryview) -> tuple[int, list[int], int]:
    """Items 0..13: ``(version, ints 1..13, offset of item 14)``."""
    import msgpack

    up = msgpack.Unpacker(raw=False, strict_map_key=False)
    up.feed(bytes(buf[:4096]))
    try:
        n = up.read_array_header()
        head = [up.unpack() for _ in range(_FIXED_ITEMS)]
    except (msgpack.OutOfData, ValueError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError, UnicodeDecodeError) as err:
        raise InputError(path, "not a CHIME msgpack chunk (cannot parse its header: "
                               f"{type(err).__name__})") from None
    if head[0] != HEADER_STRING:
        raise InputError(path, f"not a CHIME msgpack chunk (header string {head[0]!r})")
    version = head[1]
    if version not in NITEMS:
        raise InputError(path, f"unsupported CHIME chunk version {version!r} "
                               "(this reader knows versions 1 and 2)")
    if n != NITEMS[version]:
        raise InputError(path, f"corrupt CHIME chunk: version {version} has "
                               f"{NITEMS[version]} items, this file {n}")
    return version, _ints(path, head), up.tell()


def scan_chunk(path: str | os.PathLike[str], buf: bytes | memoryview | None = None
               ) -> ChunkInfo:
    """Read a chunk file's header and the positions of its arrays (``buf``: the file's bytes
    if already in memory, else the file is memory-mapped). :class:`InputError` for a file
    that is not a version 1/2 chunk, is truncated or is inconsistent."""
    p = os.fspath(path)
    if buf is None:
        buf = _map(p)
    version, v, pos = _head(p, buf)
    comp, data_size, beam, nupfreq, ntp, fcps, ntc, nscales, _ndata, fpga0, fpgan, binning = v[1:]
    _check_layout(p, version, comp, v)
    s_at, s_n = _bin_at(buf, pos, p, "scales")
    o_at, o_n = _bin_at(buf, s_at + s_n, p, "offsets")
    if s_n != 4 * nscales or o_n != 4 * nscales:
        raise InputError(p, f"corrupt CHIME chunk: scales/offsets hold {s_n}/{o_n} bytes, "
                            f"expected {4 * nscales}")
    d_at, d_n = _bin_at(buf, o_at + o_n, p, "data")
    if d_n != data_size:
        raise InputError(p, f"corrupt CHIME chunk: data holds {d_n} bytes, header says "
                            f"{data_size}")
    info = dict(path=p, version=version, compression=comp, data_size=data_size, beam_id=beam,
                nupfreq=nupfreq, nt_per_packet=ntp, fpga_counts_per_sample=fcps,
                nt_coarse=ntc, fpga0=fpga0, fpgaN=fpgan, binning=binning, scales_at=s_at,
                offsets_at=o_at, data_at=d_at)
    end = d_at + d_n
    if version == 2:
        end, tail = _tail(p, buf, end, ntc * ntp, NFREQ_COARSE * nupfreq)
        info.update(tail)
    if end != len(buf):
        raise InputError(p, f"corrupt CHIME chunk: {len(buf) - end} bytes after the chunk")
    return ChunkInfo(**info)


def _tail(path: str, buf: bytes | memoryview, pos: int, nt: int, nfreq: int
          ) -> tuple[int, dict[str, Any]]:
    """Version 2 items 17..20 from ``pos``: ``(end offset, fields)``."""
    import msgpack

    up = msgpack.Unpacker(raw=False)
    up.feed(bytes(buf[pos : pos + 32]))
    try:
        frame0, nrfi, has = up.unpack(), up.unpack(), up.unpack()
    except (msgpack.OutOfData, ValueError, msgpack.FormatError) as err:
        raise InputError(path, "corrupt CHIME chunk: cannot parse the version 2 fields "
                               f"({type(err).__name__}; truncated?)") from None
    if not (isinstance(frame0, int) and isinstance(nrfi, int) and isinstance(has, bool)
            and frame0 >= 0 and nrfi >= 0):
        raise InputError(path, f"corrupt CHIME chunk: version 2 fields frame0_nano={frame0!r}, "
                               f"nrfifreq={nrfi!r}, has_rfi_mask={has!r}")
    if nrfi and nfreq % nrfi:
        raise InputError(path, f"corrupt CHIME chunk: nrfifreq {nrfi} does not divide "
                               f"{nfreq} channels")
    m_at, m_n = _bin_at(buf, pos + up.tell(), path, "RFI mask")
    if m_n != nrfi * nt // 8:
        raise InputError(path, f"corrupt CHIME chunk: RFI mask of {m_n} bytes, expected "
                               f"nrfifreq x nt / 8 = {nrfi * nt // 8}")
    return m_at + m_n, dict(frame0_nano=frame0, nrfifreq=nrfi, has_rfi_mask=has, mask_at=m_at)


def _map(path: str) -> memoryview:
    """The file's bytes, memory-mapped read-only (an empty file gives an empty view)."""
    import mmap

    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                raise InputError(path, "empty file (not a CHIME msgpack chunk)")
            return memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, expected a chunk file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror}") from None


def load_chunk(info: ChunkInfo, buf: bytes | memoryview | None = None) -> AssembledChunk:
    """The arrays of a scanned chunk (uncompressed data is a view of the mapped file)."""
    if buf is None:
        buf = _map(info.path)
    ns = NFREQ_COARSE * info.nt_coarse
    shape = (NFREQ_COARSE, info.nt_coarse)
    scales = np.frombuffer(buf, "<f4", ns, info.scales_at).reshape(shape)
    offsets = np.frombuffer(buf, "<f4", ns, info.offsets_at).reshape(shape)
    ndata = info.nfreq * info.nt
    if info.compression == COMP_NONE:
        data = np.frombuffer(buf, np.uint8, ndata, info.data_at)
    else:
        stream = np.frombuffer(buf, np.uint8, info.data_size, info.data_at)
        try:
            data = bitshuffle_module().decompress_lz4(stream, (ndata,), np.dtype(np.uint8), 0)
        except (ValueError, RuntimeError) as err:
            raise InputError(info.path, f"corrupt CHIME chunk: bitshuffle-LZ4 data does not "
                                        f"decompress ({err})") from None
    mask = None
    if info.version == 2 and info.has_rfi_mask and info.nrfifreq:
        bits = np.frombuffer(buf, np.uint8, info.nrfifreq * info.nt // 8, info.mask_at)
        mask = np.unpackbits(bits.reshape(info.nrfifreq, info.nt // 8), axis=1,
                             bitorder="little").astype(bool)
    return AssembledChunk(
        beam_id=info.beam_id, fpga0=info.fpga0, data=data.reshape(info.nfreq, info.nt),
        scales=scales, offsets=offsets, nupfreq=info.nupfreq, nt_per_packet=info.nt_per_packet,
        fpga_counts_per_sample=info.fpga_counts_per_sample, binning=info.binning,
        frame0_nano=info.frame0_nano, rfi_mask=mask, version=info.version)


def read_chunk(path: str | os.PathLike[str]) -> AssembledChunk:
    """Read one chunk file (:func:`scan_chunk` + :func:`load_chunk`)."""
    buf = _map(os.fspath(path))
    return load_chunk(scan_chunk(path, buf), buf)


def unix_to_mjd(unix_s: float) -> float:
    """Modified Julian Date of a Unix time in seconds (MJD 40587 = 1970-01-01)."""
    return 40587.0 + unix_s / 86400.0
