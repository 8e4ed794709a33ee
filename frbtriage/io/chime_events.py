"""CHIME/FRB L1 event lists: candidate rows as L1 emits them, read as a candidate source.

The L1 search (bonsai dedispersion + L1b grouping, one process per beam) emits one *L1
event* per candidate and beam. Its fields, as ``frb_common``'s L1 event record and the
CHIME/FRB database's ``event_beam_header`` name them (also how CHIME/FRB users export
them, one row per event), are matched here to columns of a CSV file with a header line:

=====================  ==================================  ================================
column (aliases)       L1 field                            used for
=====================  ==================================  ================================
``beam`` (``beam_no``, ``beam`` / ``beam_no`` / ``beam_id``  kept (``origin``); must be the
``beam_id``)                                               chunk folder's beam
``timestamp_fpga``     ``timestamp_fpga``: FPGA count      candidate time (exact), needs a
(``fpga_timestamp``,   (2.56 us ticks) of the event        chunk folder (its ``fpga0``)
``fpga``)
``timestamp_utc``      ``timestamp_utc``: Unix time of     candidate time when there is no
                       the event, s (or us when > 1e12,    FPGA count or the data is a
                       frb_common's unit), or ISO 8601     filterbank (its ``tstart``)
``dm``                 ``dm``, pc cm^-3                    ``dm``
``snr``                ``snr``                             ``snr``
``tree_index``         ``tree_index``: bonsai tree         ``width = 2**tree_index`` samples
                       (0..4 in production)
``rfi_grade_level1``   ``rfi_grade_level1`` (0 RFI ..      kept (``origin``)
(``rfi_grade``)        10 astrophysical)
``chunks`` (``file``)  (not L1's: where the data is)       the data of the row
=====================  ==================================  ================================

At least one of ``timestamp_fpga`` and ``timestamp_utc`` is required; other L1 fields
(``dm_error``, ``snr_vs_dm``, ...) are ignored. Choices made:

* **Time.** ``tcand = (fpga - fpga0) / (fpga_counts_per_sample * binning) * tsamp``, with
  ``fpga0`` the first sample of the chunk folder (CHIME: 384 FPGA counts per 0.98304 ms
  sample), so an event lands on the sample L1 saw. Without an FPGA count (or for a
  filterbank) ``tcand = utc - (Unix time of sample 0)``: for chunks ``frame0_nano + 2.56 ns
  x fpga0`` (version 2 only), for a filterbank its ``tstart`` (MJD). The L1 timestamp is
  taken as the arrival time at the top of the band, frbtriage's ``tcand`` convention
  (:data:`L1_TIME_REF_MHZ` None); a list referenced to another frequency is shifted by the
  dispersion delay from it to the top channel with ``time_ref_mhz``.
* **Width.** Bonsai's tree ``i`` searches the data downsampled by ``nds[i] = 2**i`` (the
  production configs: ``nds = [1, 2, 4, 8, 16]``, trees 0..4), so tree index ``i`` is a
  boxcar of ``2**i`` samples: ``width = 2**tree_index``, the log2 width of a FETCH CSV. A
  tree index above :data:`frbtriage.io.candidates.MAX_LOG2_WIDTH` is refused.
* **Data.** ``data_file`` given (``--data-file``, or the data a nightly list lies beside):
  every row is of that data and the ``chunks`` column is not consulted. Else each row's
  ``chunks`` column names its chunk folder (relative to the list's folder). An event whose
  beam differs from its chunk folder's beam is a bad row.
* **Kept.** Beam and RFI grade travel in ``Candidate.origin``:
  ``"chime_l1:<list>:<line>;beam=<b>;rfi_grade=<g>"`` (stored in the workspace's
  ``candidates.origin``); :func:`l1_fields` reads them back.
* Bad rows follow :mod:`frbtriage.io.candidates`: each is an :class:`InputError` naming its
  line (raised, or with ``rejected`` collected and the rest served); a whole-file problem
  (missing, not UTF-8, no header, lacking columns) always raises.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from frbtriage.errors import InputError
from frbtriage.io.candidates import (
    MAX_LOG2_WIDTH,
    MAX_PATH_CHARS,
    Candidate,
    _check_common,
    _number,
    _served,
    _whole,
    csv_rows,
    open_csv,
)
from frbtriage.physics import K_DM

#: Column aliases, first name canonical.
L1_ALIASES: dict[str, tuple[str, ...]] = {
    "beam": ("beam", "beam_no", "beam_id"),
    "timestamp_fpga": ("timestamp_fpga", "fpga_timestamp", "fpga"),
    "timestamp_utc": ("timestamp_utc",),
    "dm": ("dm",),
    "snr": ("snr",),
    "tree_index": ("tree_index",),
    "rfi_grade": ("rfi_grade_level1", "rfi_grade"),
    "chunks": ("chunks", "file"),
}
L1_REQUIRED = ("beam", "dm", "snr", "tree_index")
#: Frequency (MHz) the L1 timestamps refer to; None: the top of the band (no shift).
L1_TIME_REF_MHZ: float | None = None
#: Largest beam number accepted (L1 stores beams as uint16).
MAX_BEAM = 65535
#: L1's RFI grades run 0..10.
MAX_RFI_GRADE = 10.0
#: ``timestamp_utc`` above this is microseconds (frb_common's unit), below it seconds.
_UTC_US_ABOVE = 1e12
_MJD_UNIX0 = 40587.0


def is_l1_header(header: list[str]) -> bool:
    """True when a CSV header is an L1 event list's (``tree_index`` and a timestamp, and
    no FETCH ``stime``)."""
    names = {h.strip().lower() for h in header}
    return ("tree_index" in names and "stime" not in names
            and any(a in names for k in ("timestamp_fpga", "timestamp_utc")
                    for a in L1_ALIASES[k]))


@dataclass(frozen=True)
class L1Event:
    """One L1 event row (see the module). ``fpga`` / ``utc`` None when absent; ``utc`` in
    Unix seconds; ``chunks`` the row's data (absolute) or None; ``line`` its line."""

    beam: int
    fpga: int | None
    utc: float | None
    dm: float
    snr: float
    tree_index: int
    rfi_grade: float | None
    chunks: str | None
    line: int

    @property
    def width(self) -> int:
        """Boxcar width in samples: ``2**tree_index`` (bonsai's tree downsampling)."""
        return 1 << self.tree_index


def l1_fields(origin: str) -> dict[str, str]:
    """The ``;key=value`` fields an L1 candidate's ``origin`` carries (``beam``,
    ``rfi_grade``), {} for other origins."""
    if not origin.startswith("chime_l1:"):
        return {}
    return dict(part.split("=", 1) for part in origin.split(";")[1:] if "=" in part)


@dataclass(frozen=True)
class _Clock:
    """What maps an event to ``tcand`` in one data source: ``fpga0`` of sample 0 and FPGA
    counts per sample (chunks; None/0 for a filterbank), ``tsamp`` s, ``unix0`` the Unix time
    of sample 0 (None when unknown), the data's ``beam`` (None for a filterbank) and its
    highest channel frequency ``ftop`` MHz."""

    fpga0: int | None
    fpga_per_sample: int
    tsamp: float
    unix0: float | None
    beam: int | None
    ftop: float

    @staticmethod
    def of(data: str) -> _Clock:
        """The clock of chunk folder or filterbank ``data``; :class:`InputError` if
        unreadable."""
        from frbtriage.io.open_data import open_data

        with open_data(data) as rd:
            h = rd.header
            ftop = max(h.fch1, h.fch1 + h.foff * (h.nchans - 1))
            if rd.format == "chime":
                return _Clock(rd.fpga0, rd.fpga_counts_per_sample, h.tsamp, rd.unix_start,
                              rd.beam_id, ftop)
            unix0 = (h.tstart - _MJD_UNIX0) * 86400.0 if h.tstart else None
            return _Clock(None, 0, h.tsamp, unix0, None, ftop)


class _Clocks:
    """:meth:`_Clock.of` once per data source of a list (an unreadable one's error too)."""

    def __init__(self) -> None:
        self._known: dict[str, _Clock | InputError] = {}

    def get(self, data: str) -> _Clock:
        got = self._known.get(data)
        if got is None:
            try:
                got = _Clock.of(data)
            except InputError as err:
                got = err
            self._known[data] = got
        if isinstance(got, InputError):
            raise got
        return got


def read_l1_events(path: str | os.PathLike[str], data_file: str | os.PathLike[str] | None = None,
                   rejected: list[InputError] | None = None,
                   time_ref_mhz: float | None = L1_TIME_REF_MHZ) -> list[Candidate]:
    """Read a CHIME/FRB L1 event list (CSV, see the module) into candidates, in file order.

    ``data_file``: the data of every row (a chunk folder, or a filterbank for rows with
    ``timestamp_utc``); None: each row's ``chunks`` column. ``time_ref_mhz``: the frequency
    the timestamps refer to (None: the top of the band). A bad row raises
    :class:`InputError` naming its line, or with ``rejected`` is appended there and skipped.
    """
    p = Path(path)
    ps, header, reader = open_csv(p, lower=True)
    col: dict[str, int] = {}
    for key, names in L1_ALIASES.items():
        found = next((n for n in names if n in header), None)
        if found is not None:
            col[key] = header.index(found)
    missing = [k for k in L1_REQUIRED if k not in col]
    if "timestamp_fpga" not in col and "timestamp_utc" not in col:
        missing.append("timestamp_fpga or timestamp_utc")
    if missing:
        raise InputError(ps, f"L1 event list lacks column(s) {', '.join(missing)} "
                             f"(has: {', '.join(header) or 'none'})")
    data = None if data_file is None else os.path.normpath(os.path.abspath(os.fspath(data_file)))
    if data is None and "chunks" not in col:
        raise InputError(ps, "an L1 event list without a 'chunks' column needs the chunk "
                             "folder it belongs to (--data-file)")
    if time_ref_mhz is not None and not (math.isfinite(time_ref_mhz) and time_ref_mhz > 0):
        raise ValueError(f"time_ref_mhz must be a positive frequency, not {time_ref_mhz!r}")
    rows = _L1Rows(ps, p.resolve(), reader, header, col, data, time_ref_mhz)
    return _served(ps, rows, rejected)


class _L1Rows:
    """The rows of an L1 event list after its header, each a :class:`Candidate` or the
    :class:`InputError` that says why it is not one (blank rows left out)."""

    def __init__(self, ps: str, resolved: Path, reader: Iterator[list[str]], header: list[str],
                 col: dict[str, int], data: str | None, time_ref_mhz: float | None) -> None:
        self.ps, self.resolved, self.reader = ps, resolved, reader
        self.header, self.col, self.data, self.ref = header, col, data, time_ref_mhz
        self.clocks = _Clocks()

    def __iter__(self) -> Iterator[Candidate | InputError]:
        return csv_rows(self.ps, self.reader,
                        lambda row, lineno: self.candidate(self.event(row, lineno)))

    def _field(self, row: list[str], key: str) -> str | None:
        i = self.col.get(key)
        if i is None or not row[i].strip():
            return None
        return row[i].strip()

    def event(self, row: list[str], lineno: int) -> L1Event:
        """Row ``row`` (line ``lineno``) as an :class:`L1Event`; :class:`InputError` if not."""
        ps, where = self.ps, f"line {lineno}"
        if len(row) != len(self.header):
            raise InputError(ps, f"{where}: {len(row)} fields, the header has {len(self.header)}")
        need = {k: self._field(row, k) for k in L1_REQUIRED}
        for k, v in need.items():
            if v is None:
                raise InputError(ps, f"{where}, column {k!r}: empty")
        beam = _whole(ps, where, "beam", _number(ps, where, "beam", need["beam"]))
        if not 0 <= beam <= MAX_BEAM:
            raise InputError(ps, f"{where}, column 'beam': beam {beam} outside 0..{MAX_BEAM}")
        dm = _number(ps, where, "dm", need["dm"])
        snr = _number(ps, where, "snr", need["snr"])
        tree = _whole(ps, where, "tree_index", _number(ps, where, "tree_index",
                                                       need["tree_index"]))
        if not 0 <= tree <= MAX_LOG2_WIDTH:
            raise InputError(ps, f"{where}, column 'tree_index': tree {tree} outside "
                                 f"0..{MAX_LOG2_WIDTH} (bonsai production: 0..4)")
        fpga = _fpga(ps, where, self._field(row, "timestamp_fpga"))
        utc_text = self._field(row, "timestamp_utc")
        utc = None if utc_text is None else _utc(ps, where, utc_text)
        if fpga is None and utc is None:
            raise InputError(ps, f"{where}: neither timestamp_fpga nor timestamp_utc given")
        grade_text = self._field(row, "rfi_grade")
        grade = None
        if grade_text is not None:
            grade = _number(ps, where, "rfi_grade_level1", grade_text)
            if not 0 <= grade <= MAX_RFI_GRADE:
                raise InputError(ps, f"{where}, column 'rfi_grade_level1': {grade:g} outside "
                                     f"L1's 0..{MAX_RFI_GRADE:g}")
        chunks = None
        if self.data is None:
            text = self._field(row, "chunks")
            if text is None:
                raise InputError(ps, f"{where}, column 'chunks': empty (no --data-file given)")
            if len(text) > MAX_PATH_CHARS or "\0" in text:
                raise InputError(ps, f"{where}, column 'chunks': not a folder name")
            f = Path(text).expanduser()
            chunks = os.path.normpath(f if f.is_absolute() else self.resolved.parent / f)
        _check_common(ps, where, 0.0, dm, snr)
        return L1Event(beam=beam, fpga=fpga, utc=utc, dm=dm, snr=snr, tree_index=tree,
                       rfi_grade=grade, chunks=chunks, line=lineno)

    def candidate(self, ev: L1Event) -> Candidate:
        """The candidate of event ``ev`` in its data (see the module's time rule)."""
        ps, where = self.ps, f"line {ev.line}"
        data = self.data if self.data is not None else ev.chunks
        assert data is not None
        try:
            clock = self.clocks.get(data)
        except InputError as err:
            raise InputError(ps, f"{where}: data {data}: {err.problem}") from None
        if clock.beam is not None and clock.beam != ev.beam:
            raise InputError(ps, f"{where}: event of beam {ev.beam}, but {data} holds beam "
                                 f"{clock.beam}")
        if ev.fpga is not None and clock.fpga0 is not None:
            tcand = (ev.fpga - clock.fpga0) / clock.fpga_per_sample * clock.tsamp
        elif ev.utc is not None and clock.unix0 is not None:
            tcand = ev.utc - clock.unix0
        elif clock.fpga0 is None:
            raise InputError(ps, f"{where}: an FPGA count needs CHIME chunks (their fpga0); "
                                 f"{data} is a filterbank: give timestamp_utc")
        else:
            raise InputError(ps, f"{where}: timestamp_utc needs version 2 chunks (frame0_nano); "
                                 f"{data} has none: give timestamp_fpga")
        if self.ref is not None:
            tcand -= K_DM * ev.dm * (self.ref**-2 - clock.ftop**-2)
        _check_common(ps, where, tcand, ev.dm, ev.snr)
        grade = "" if ev.rfi_grade is None else f"{ev.rfi_grade:g}"
        return Candidate(file=data, tcand=float(tcand), dm=ev.dm, width=ev.width, snr=ev.snr,
                         label=None,
                         origin=f"chime_l1:{self.resolved}:{ev.line};beam={ev.beam};"
                                f"rfi_grade={grade}")


def _fpga(ps: str, where: str, text: str | None) -> int | None:
    """An FPGA count (exact for integer text; floats must be whole), or None."""
    if text is None:
        return None
    try:
        v = int(text)
    except ValueError:
        v = _whole(ps, where, "timestamp_fpga", _number(ps, where, "timestamp_fpga", text))
    if v < 0:
        raise InputError(ps, f"{where}, column 'timestamp_fpga': negative FPGA count {v}")
    return v


def _utc(ps: str, where: str, text: str) -> float:
    """Unix seconds from a number (s, or us above 1e12) or ISO 8601 text (UTC if no zone)."""
    try:
        v = float(text)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(ps, f"{where}, column 'timestamp_utc': {text!r} is neither a Unix "
                                 "time nor an ISO 8601 date") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    if not math.isfinite(v) or v < 0:
        raise InputError(ps, f"{where}, column 'timestamp_utc': {text!r} is not a Unix time")
    return v * 1e-6 if v > _UTC_US_ABOVE else v
