"""Candidate lists: the your/FETCH candmaker CSV and Heimdall ``.cand`` text, into one record.

Conventions (docs/CONTRACTS.md): ``tcand`` is seconds from the start of the data file at the
top of the band; ``width`` is in samples (the CSV holds log2 of it, Heimdall its ``filter``
index, also log2 of samples); ``dm`` in pc cm^-3.

Choices made here, so that every reader behaves the same:

* ``dm >= 0`` is accepted (searches report RFI at DM 0, and FETCH is trained on such
  candidates); ``dm < 0`` is bad input. ``width`` must come out as a whole number of samples
  ``>= 1`` (log2 width ``>= 0``). ``tcand`` must be ``>= 0``. Every number must be finite.
* Absurd values are refused with the limit named (:data:`MAX_DM`, :data:`MAX_LOG2_WIDTH`,
  :data:`MAX_TCAND`, :data:`MAX_ABS_SNR`): they come from a corrupt or mislabelled list, and a
  width of ``2**40`` samples would otherwise ask for petabytes when its window is read.
* A bad row is bad input naming its line. By default the first one raises; given a
  ``rejected`` list, a reader appends each bad row's :class:`InputError` there and serves the
  rest (how ``prepare`` and ``rank`` read lists). Problems of the whole file (missing, not
  text, no header line, lacking columns) always raise.
* Labels: 1 = astrophysical, 0 = RFI/noise; an empty label or ``-1`` (your's "unknown") reads
  as ``None`` and ``None`` is written as ``-1``.
* A CSV ``file`` that is a relative path is relative to the CSV's folder. On writing, a data
  file inside the CSV's folder is written relative to it (so a folder can be moved or
  committed), any other one as an absolute path.
* An empty CSV (not even a header line) is bad input; a header with no rows is an empty list.
  An empty Heimdall ``.cand`` file is an empty list: that is how Heimdall reports "nothing".
* Files are written to a temporary name in the same folder and then renamed, so a failed
  write never leaves a half-written list behind.
* A candidate read from a list keeps the list's own text of each column it knows
  (:data:`FETCH_COLUMNS` present in the header; all :data:`HEIMDALL_COLUMNS`) in
  ``Candidate.columns``, so that ``rank`` can write them back byte for byte (a DM of
  ``1220.073`` stays ``1220.073``) and users can join its output to their own tables.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from frbtriage.errors import InputError
from frbtriage.safe_write import write_text

#: Columns of the your/FETCH candmaker CSV (``your_candmaker.py -c``), in its order.
FETCH_COLUMNS = ("file", "snr", "stime", "width", "dm", "label", "chan_mask_path", "num_files")
FETCH_REQUIRED = ("file", "snr", "stime", "width", "dm")
#: Columns of a Heimdall ``.cand`` line.
HEIMDALL_COLUMNS = ("snr", "sample", "time", "filter", "dm_trial", "dm", "members", "first", "last")

#: Largest DM accepted, pc cm^-3: ten times the widest DM range searched in practice (FRB
#: searches go to ~1e4; the largest FRB DM known is below 1e4).
MAX_DM = 1e5
#: Largest log2 width in samples accepted: 2**16 samples, sixteen times Heimdall's default
#: widest boxcar (4096); what a given file can afford is checked again when it is read
#: (:data:`frbtriage.prepare.MAX_WINDOW_BYTES`).
MAX_LOG2_WIDTH = 16
#: Largest candidate time accepted, s from the file start (116 days: no data file is longer).
MAX_TCAND = 1e7
#: Largest |S/N| accepted (the brightest bursts recorded reach ~1e4-1e5).
MAX_ABS_SNR = 1e7
#: Longest ``file`` entry accepted, characters (Linux's PATH_MAX).
MAX_PATH_CHARS = 4096


@dataclass(frozen=True)
class Candidate:
    """One candidate from any search.

    Attributes:
        file: path of the data file the candidate is in.
        tcand: arrival time at the top of the band, seconds from the file start.
        dm: dispersion measure, pc cm^-3 (>= 0).
        width: boxcar width in samples (>= 1).
        snr: signal-to-noise ratio reported by the search.
        label: 1 astrophysical, 0 RFI/noise, None unknown.
        origin: where the record came from, e.g. ``"fetch_csv:/path/cands.csv:12"``.
        columns: the list's own text of each known column it read, ``(name, text)``
            (empty when the record did not come from a list); not part of equality.
            :meth:`text` looks one up.
    """

    file: str
    tcand: float
    dm: float
    width: int
    snr: float
    label: int | None = None
    origin: str = ""
    columns: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    def text(self, column: str) -> str | None:
        """The list's text of ``column`` as read (None: the record has no such column)."""
        for name, text in self.columns:
            if name == column:
                return text
        return None


# ------------------------------------------------------------------------------ helpers


def _number(path: str, where: str, column: str, text: str) -> float:
    """A finite float from ``text`` or :class:`InputError` naming row and column."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(path, f"{where}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(path, f"{where}, column {column!r}: {text!r} is not a finite number")
    return value


def _whole(path: str, where: str, column: str, value: float) -> int:
    """``value`` as an int when it is one (within 1e-6), else :class:`InputError`."""
    r = round(value)
    if abs(value - r) > 1e-6 * max(1.0, abs(value)):
        raise InputError(path, f"{where}, column {column!r}: {value!r} is not a whole number")
    return int(r)


def _width_from_log2(path: str, where: str, column: str, log2w: float) -> int:
    if log2w < 0:
        raise InputError(
            path, f"{where}, column {column!r}: width {log2w!r} (log2 samples) must be >= 0"
        )
    if log2w > MAX_LOG2_WIDTH:
        raise InputError(path, f"{where}, column {column!r}: width 2**{log2w:g} samples is "
                               f"absurd (limit 2**{MAX_LOG2_WIDTH})")
    return _whole(path, where, column + " (2**width samples)", 2.0**log2w)


def _check_common(path: str, where: str, tcand: float, dm: float, snr: float) -> None:
    """Refuse a negative DM or time and values beyond the ``MAX_*`` limits."""
    if dm < 0:
        raise InputError(path, f"{where}, column 'dm': negative DM {dm!r}")
    if dm > MAX_DM:
        raise InputError(path, f"{where}, column 'dm': DM {dm:g} is absurd (limit {MAX_DM:g})")
    if tcand < 0:
        raise InputError(path, f"{where}: negative candidate time {tcand!r} s")
    if tcand > MAX_TCAND:
        raise InputError(path, f"{where}: candidate time {tcand:g} s is absurd "
                               f"(limit {MAX_TCAND:g} s)")
    if abs(snr) > MAX_ABS_SNR:
        raise InputError(path, f"{where}, column 'snr': S/N {snr:g} is absurd "
                               f"(limit {MAX_ABS_SNR:g})")


def _served(path: str, rows: Iterable[Candidate | InputError],
            rejected: list[InputError] | None) -> list[Candidate]:
    """The candidates among ``rows``; each bad row (an :class:`InputError`) is raised, or,
    given ``rejected``, appended to it and left out."""
    out: list[Candidate] = []
    for row in rows:
        if isinstance(row, Candidate):
            out.append(row)
        elif rejected is None:
            raise row
        else:
            rejected.append(row)
    return out


def _label(path: str, where: str, text: str | None) -> int | None:
    if text is None or text.strip() == "" or text.strip().lower() == "nan":
        return None
    lab = _whole(path, where, "label", _number(path, where, "label", text))
    if lab == -1:
        return None
    if lab not in (0, 1):
        raise InputError(path, f"{where}, column 'label': {text!r} is not 0, 1 or -1")
    return lab


def _need_file(path: Path) -> str:
    p = os.fspath(path)
    if not path.exists():
        raise InputError(p, "file not found")
    if not path.is_file():
        raise InputError(p, "not a regular file")
    return p


def float_text(x: float) -> str:
    """Shortest text that reads back as the same float."""
    return repr(float(x))


def log2_text(width: int) -> str:
    """``log2(width)`` as your/FETCH lists write it: an integer when exact, else the
    shortest float text that reads back the same."""
    lg = math.log2(width)
    return str(int(lg)) if lg.is_integer() else repr(lg)


def _check_candidate(c: Candidate, i: int) -> None:
    """Refuse to write a record our readers would reject (``ValueError``: a programming error)."""
    ok = (
        isinstance(c.width, numbers.Real)
        and int(c.width) == c.width
        and c.width >= 1
        and math.isfinite(c.dm)
        and c.dm >= 0
        and math.isfinite(c.tcand)
        and c.tcand >= 0
        and math.isfinite(c.snr)
    )
    if not ok:
        raise ValueError(f"candidate {i} cannot be written: {c!r}")


# ------------------------------------------------------------------------------ FETCH CSV


def read_fetch_csv(path: str | os.PathLike[str],
                   rejected: list[InputError] | None = None) -> list[Candidate]:
    """Read a your/FETCH candmaker CSV into :class:`Candidate` records, in file order.

    Columns ``file, snr, stime, width, dm`` are required (``width`` as log2 samples);
    ``label, chan_mask_path, num_files`` are optional; others are ignored. A bad row raises
    :class:`InputError` naming its line, or with ``rejected`` is appended there and skipped.
    """
    p = Path(path)
    ps, header, reader = open_csv(p)
    missing = [c for c in FETCH_REQUIRED if c not in header]
    if missing:
        raise InputError(
            ps, f"CSV lacks column(s) {', '.join(missing)} (has: {', '.join(header) or 'none'})"
        )
    col = {name: header.index(name) for name in FETCH_COLUMNS if name in header}
    return _served(ps, _FetchRows(ps, p.resolve(), reader, header, col), rejected)


def open_csv(p: Path, lower: bool = False) -> tuple[str, list[str], Iterator[list[str]]]:
    """``(path text, header names (stripped; lower-cased with ``lower``), reader of the rows
    after it)`` of a candidate CSV; :class:`InputError` for a missing, non-UTF-8 or empty
    file or an unreadable header line."""
    ps = _need_file(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(ps, "not a text CSV file (not UTF-8)") from None
    if not text.strip():
        raise InputError(ps, "empty file (expected a CSV header line)")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() if lower else h.strip() for h in next(reader)]
    except csv.Error as err:
        raise InputError(ps, f"line 1: not a CSV header line ({err})") from None
    return ps, header, reader


def csv_rows(ps: str, reader: Iterator[list[str]],
             make: Callable[[list[str], int], Candidate]) -> Iterator[Candidate | InputError]:
    """``make(row, line number)`` for each non-blank row of ``reader`` (a ``csv.reader``), or
    the :class:`InputError` it raised, or one for an unreadable row."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:  # e.g. a field over the csv module's 128 KiB limit
            yield InputError(ps, f"line {reader.line_num}: unreadable row ({err})")  # type: ignore[attr-defined]
            continue
        if not row or all(not f.strip() for f in row):
            continue
        try:
            yield make(row, reader.line_num)  # type: ignore[attr-defined]
        except InputError as err:
            yield err


class _FetchRows:
    """The rows of a FETCH CSV after its header, each a :class:`Candidate` or the
    :class:`InputError` that says why it is not one (blank rows are left out)."""

    def __init__(self, ps: str, resolved: Path, reader: Iterator[list[str]],
                 header: list[str], col: dict[str, int]) -> None:
        self.ps, self.resolved, self.reader = ps, resolved, reader
        self.header, self.col = header, col

    def __iter__(self) -> Iterator[Candidate | InputError]:
        return csv_rows(self.ps, self.reader, self.candidate)

    def candidate(self, row: list[str], lineno: int) -> Candidate:
        """Row ``row`` (at line ``lineno``) as a :class:`Candidate`; :class:`InputError`
        when it is not one."""
        ps, col = self.ps, self.col
        where = f"line {lineno}"
        if len(row) != len(self.header):
            raise InputError(ps, f"{where}: {len(row)} fields, the header has {len(self.header)}")
        file_text = row[col["file"]].strip()
        if not file_text:
            raise InputError(ps, f"{where}, column 'file': empty")
        if len(file_text) > MAX_PATH_CHARS or "\0" in file_text:
            raise InputError(ps, f"{where}, column 'file': not a file name ({len(file_text)} "
                                 f"characters; limit {MAX_PATH_CHARS}, no NUL)")
        snr = _number(ps, where, "snr", row[col["snr"]])
        tcand = _number(ps, where, "stime", row[col["stime"]])
        dm = _number(ps, where, "dm", row[col["dm"]])
        width = _width_from_log2(ps, where, "width", _number(ps, where, "width", row[col["width"]]))
        _check_common(ps, where, tcand, dm, snr)
        label = _label(ps, where, row[col["label"]]) if "label" in col else None
        if "num_files" in col and row[col["num_files"]].strip():
            nf = _number(ps, where, "num_files", row[col["num_files"]])
            if _whole(ps, where, "num_files", nf) < 1:
                raise InputError(ps, f"{where}, column 'num_files': must be >= 1")
        f = Path(file_text).expanduser()
        file_abs = f if f.is_absolute() else self.resolved.parent / f
        return Candidate(file=os.path.normpath(file_abs), tcand=tcand, dm=dm, width=width,
                         snr=snr, label=label, origin=f"fetch_csv:{self.resolved}:{lineno}",
                         columns=tuple((name, row[i]) for name, i in col.items()))


def _relative_for(csv_path: Path, data_file: str) -> str:
    """``data_file`` relative to the CSV's folder when inside it, else absolute."""
    folder = csv_path.resolve().parent
    absf = Path(os.path.abspath(data_file))
    try:
        return absf.relative_to(folder).as_posix()
    except ValueError:
        return str(absf)


def write_fetch_csv(path: str | os.PathLike[str], cands: Iterable[Candidate]) -> None:
    """Write candidates as a your/FETCH candmaker CSV (all eight columns), atomically.

    ``width`` is written as log2 samples, ``label`` None as -1, ``chan_mask_path`` empty and
    ``num_files`` 1. Relative ``Candidate.file`` paths are taken relative to the current folder.
    """
    p = Path(path)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FETCH_COLUMNS)
    for i, c in enumerate(cands):
        _check_candidate(c, i)
        w.writerow(
            [
                _relative_for(p, c.file),
                float_text(c.snr),
                float_text(c.tcand),
                log2_text(int(c.width)),
                float_text(c.dm),
                -1 if c.label is None else int(c.label),
                "",
                1,
            ]
        )
    write_text(p, buf.getvalue())


# ------------------------------------------------------------------------------ Heimdall


def read_heimdall(
    path: str | os.PathLike[str],
    data_file: str | os.PathLike[str],
    tsamp: float | None = None,
    rejected: list[InputError] | None = None,
) -> list[Candidate]:
    """Read a Heimdall ``.cand`` file (whitespace-separated, one candidate a line).

    Columns: snr, sample, time (s), filter (log2 width in samples), dm_trial, dm, members,
    first, last; further columns (e.g. a beam number) are ignored, ``#`` lines skipped.
    ``data_file`` is the file Heimdall searched (stored in ``Candidate.file``). With ``tsamp``
    (seconds) ``tcand = sample * tsamp``, else the ``time`` column is used. A bad line raises
    :class:`InputError` naming it, or with ``rejected`` is appended there and skipped.
    """
    p = Path(path)
    ps = _need_file(p)
    if tsamp is not None and not (math.isfinite(tsamp) and tsamp > 0):
        raise ValueError(f"tsamp must be a positive number of seconds, not {tsamp!r}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(ps, "not a Heimdall .cand text file (not UTF-8)") from None
    data = os.path.normpath(os.path.abspath(os.fspath(data_file)))
    rows = _heimdall_rows(ps, text, tsamp, data, f"heimdall:{p.resolve()}")
    return _served(ps, rows, rejected)


def _heimdall_rows(ps: str, text: str, tsamp: float | None, data: str, origin: str
                   ) -> Iterator[Candidate | InputError]:
    """The candidate lines of Heimdall ``text``, each a :class:`Candidate` or the
    :class:`InputError` that says why it is not one."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith("#"):
            try:
                yield _heimdall_row(ps, f"line {lineno}", s.split(), tsamp, data,
                                    f"{origin}:{lineno}")
            except InputError as err:
                yield err


def _heimdall_row(ps: str, where: str, fields: list[str], tsamp: float | None, data: str,
                  origin: str) -> Candidate:
    """One Heimdall line's ``fields`` as a :class:`Candidate` of ``data``; :class:`InputError`
    (naming ``where``) when they are not one."""
    if len(fields) < len(HEIMDALL_COLUMNS):
        raise InputError(
            ps,
            f"{where}: {len(fields)} columns, a Heimdall candidate has "
            f"{len(HEIMDALL_COLUMNS)} ({' '.join(HEIMDALL_COLUMNS)})",
        )
    v = {name: _number(ps, where, name, fields[i]) for i, name in enumerate(HEIMDALL_COLUMNS)}
    sample = _whole(ps, where, "sample", v["sample"])
    filt = _whole(ps, where, "filter", v["filter"])
    width = _width_from_log2(ps, where, "filter", float(filt))
    tcand = sample * tsamp if tsamp is not None else v["time"]
    _check_common(ps, where, tcand, v["dm"], v["snr"])
    if sample < 0:
        raise InputError(ps, f"{where}, column 'sample': negative sample {sample}")
    return Candidate(file=data, tcand=float(tcand), dm=v["dm"], width=width, snr=v["snr"],
                     label=None, origin=origin,
                     columns=tuple(zip(HEIMDALL_COLUMNS, fields, strict=False)))


def write_heimdall(path: str | os.PathLike[str], cands: Sequence[Candidate], tsamp: float) -> None:
    """Write candidates as Heimdall ``.cand`` text, atomically.

    ``sample = round(tcand / tsamp)``; ``filter = log2(width)`` (widths must be powers of two,
    as Heimdall's boxcars are); ``dm_trial`` is the candidate's rank in increasing DM; members 1;
    ``first``/``last`` the sample span of the boxcar.
    """
    if not (math.isfinite(tsamp) and tsamp > 0):
        raise ValueError(f"tsamp must be a positive number of seconds, not {tsamp!r}")
    dms = sorted({c.dm for c in cands})
    trial = {dm: i for i, dm in enumerate(dms)}
    lines = []
    for i, c in enumerate(cands):
        _check_candidate(c, i)
        lg = math.log2(int(c.width))
        if not lg.is_integer():
            raise ValueError(f"candidate {i}: width {c.width} is not a power of two for Heimdall")
        sample = round(c.tcand / tsamp)
        lines.append(
            "\t".join(
                [
                    f"{c.snr:.6g}",
                    str(sample),
                    float_text(c.tcand),
                    str(int(lg)),
                    str(trial[c.dm]),
                    float_text(c.dm),
                    "1",
                    str(max(sample - int(c.width) + 1, 0)),
                    str(sample),
                ]
            )
        )
    write_text(path, "".join(line + "\n" for line in lines))


# ------------------------------------------------------------------------------ dispatch


def read_candidates(
    path: str | os.PathLike[str],
    data_file: str | os.PathLike[str] | None = None,
    rejected: list[InputError] | None = None,
) -> list[Candidate]:
    """Read a candidate list by suffix: ``.csv`` your/FETCH or, when its header is one
    (:func:`frbtriage.io.chime_events.is_l1_header`), a CHIME/FRB L1 event list; ``.cand``
    Heimdall.

    A Heimdall file names no data file, so ``data_file`` is required for it (its header
    gives ``tsamp``, used to turn samples into seconds). An L1 event list takes its chunk
    folder from ``data_file`` when given (every row), else from its ``chunks`` column. With
    ``rejected`` bad rows are appended there and the rest served; if every row is bad,
    :class:`InputError` says so with the first row's problem.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    before = len(rejected) if rejected is not None else 0
    if suffix == ".csv" and _l1_list(p):
        from frbtriage.io.chime_events import read_l1_events

        out = read_l1_events(p, data_file, rejected)
    elif suffix == ".csv":
        out = read_fetch_csv(p, rejected)
    elif suffix == ".cand":
        if data_file is None:
            raise InputError(
                os.fspath(p), "a Heimdall .cand file needs the data file it was searched from"
            )
        _need_file(p)
        from frbtriage.io.open_data import read_data_header

        out = read_heimdall(p, data_file, tsamp=read_data_header(data_file).tsamp,
                            rejected=rejected)
    else:
        raise InputError(
            os.fspath(p),
            f"unknown candidate list type {suffix or '(no suffix)'!r}: expected .csv "
            "(your/FETCH, CHIME L1 events) or .cand (Heimdall)",
        )
    bad = rejected[before:] if rejected is not None else []
    if bad and not out:
        raise InputError(os.fspath(p), f"none of its {len(bad)} candidate rows can be used "
                                       f"(first: {bad[0].problem})")
    return out


def _l1_list(path: Path) -> bool:
    """True when the CSV at ``path`` has an L1 event list's header line (any problem reading
    it: False, and the FETCH reader says what it is)."""
    from frbtriage.io.chime_events import is_l1_header

    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline(1 << 16)
        return is_l1_header(next(csv.reader([first]), []))
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
