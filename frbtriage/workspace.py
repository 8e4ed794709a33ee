"""The workspace: one folder holding the candidate images (zarr) and records (SQL).

Layout of a workspace folder ``WS``::

    WS/frbtriage.toml   settings: the SQLAlchemy URL of the database (PostgreSQL can replace
                        the default SQLite file), the zarr store's name
    WS/arrays.zarr      zarr v3 group; arrays ``ft`` and ``dmt``, each (N, 256, 256) float32,
                        one compressed chunk per candidate, append-only
    WS/triage.db        the SQLite database (default URL ``sqlite:///{workspace}/triage.db``)

Arrays in zarr, records in SQL. The database is the system of record: candidate ``i`` of
the ``candidates`` table owns row ``candidates.row`` of both arrays. :meth:`Workspace.append`
makes a zarr row and its database row land together or not at all:

1. under an exclusive lock file (one writer at a time on this host), read from the database
   the number of rows it knows, ``n``;
2. cut the arrays back to ``n`` rows (rows beyond it are orphans of an interrupted run) and
   grow them by the batch, writing the new images (each chunk file is written to a
   temporary name and renamed, so a committed row's chunk is never half-written);
3. insert the batch's database rows in one transaction and commit.

A kill before step 3 commits leaves only orphan zarr rows, overwritten by the next append;
a kill after leaves a complete batch. Readers trust ``len(ws)`` / the database, never the
arrays' raw length.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from frbtriage import db
from frbtriage.conventions import IMAGE_SHAPE, IMAGE_SIZE
from frbtriage.errors import InputError
from frbtriage.safe_write import write_text

if TYPE_CHECKING:
    from frbtriage.io.candidates import Candidate
    from frbtriage.io.filterbank import Header

log = logging.getLogger(__name__)

CONFIG_NAME = "frbtriage.toml"
ARRAYS_NAME = "arrays.zarr"
DB_NAME = "triage.db"
LOCK_NAME = ".frbtriage.lock"
DEFAULT_URL = "sqlite:///{workspace}/" + DB_NAME
FORMAT_VERSION = 1

_CONFIG_TEMPLATE = """\
# frbtriage workspace settings.
# database.url: any SQLAlchemy URL; "{{workspace}}" stands for this folder, so the default
# SQLite file moves with it. Use e.g. postgresql+psycopg://user@host/db to share one database.
[workspace]
format_version = {format_version}

[database]
url = "{url}"

[arrays]
path = "{arrays}"

# When a candidate's volunteer label is settled and it leaves the queue: at least min_votes
# astro/rfi votes of which a share >= min_agreement agree, or a Dawid-Skene posterior
# >= posterior either way. Gold candidates never retire.
[crowd.retire]
min_votes = 5
min_agreement = 0.8
posterior = 0.99

# Defaults of the other settings, to uncomment and change:
# Levels (as in Gravity Spy): a new volunteer sees gold candidates and those the live model is
# sure of (max(p, 1-p) >= confident) until min_gold gold answers are in with a share
# >= promote_accuracy right; then the queue, most uncertain first.
# [crowd.levels]
# promote_accuracy = 0.8
# min_gold = 5
# confident = 0.9

# The nightly job (frbtriage nightly): retrain once this many new aggregated vote labels have
# arrived since the last retrained model; the search and queue settings it uses.
# [nightly]
# retrain_min_new_labels = 200
# retrain_epochs = 8
# queue_size = 500
# queue_strategy = "bald"
# dm_min = 0.0
# dm_max = 2000.0
# snr_min = 7.0
# max_width_s = 0.1
"""


@dataclass(frozen=True)
class NewCandidate:
    """A candidate to store with its images (see :class:`frbtriage.db.CandidateRecord`).

    ``file`` absolute path of the data file; ``tcand`` s; ``dm`` pc cm^-3; ``width`` samples;
    ``label`` 1 / 0 / None, stored as a :class:`frbtriage.db.LabelRecord` from
    ``label_source`` (``"list"``: the label column of the candidate list; ``"simulation"``:
    a simulation's truth table) with the candidate's ``origin`` as its reference;
    ``dmt_available`` False when the stored ``dmt`` is a placeholder, not a DM-time image;
    ``f_hi_mhz``, ``f_lo_mhz``, ``pixel_s`` the ``ft`` image's band edges and column spacing
    (None when unknown); ``dispersion_index`` / ``dispersion_err`` / ``dispersion_delay_s``
    its measured sweep (:func:`frbtriage.dispersion.measure`; None when not measured).
    """

    file: str
    tcand: float
    dm: float
    width: int
    snr: float
    label: int | None = None
    padded: bool = False
    origin: str = ""
    label_source: str = "list"
    dmt_available: bool = True
    f_hi_mhz: float | None = None
    f_lo_mhz: float | None = None
    pixel_s: float | None = None
    dispersion_index: float | None = None
    dispersion_err: float | None = None
    dispersion_delay_s: float | None = None

    def key(self) -> tuple[str, int, int, int]:
        """The duplicate key ``(file, tcand_key, dm_key, width)`` of the database."""
        return db.candidate_key(self.file, self.tcand, self.dm, self.width)


class Workspace:
    """A workspace folder opened for reading and appending.

    Use :meth:`create` or :meth:`open` (both usable as context managers). Attributes:
    ``path`` (the folder), ``url`` (the database URL), ``engine`` (SQLAlchemy engine),
    ``ft`` and ``dmt`` (the zarr arrays; only their first ``len(self)`` rows are committed).
    """

    def __init__(self, path: Path, url: str, arrays_name: str) -> None:
        # use Workspace.open / Workspace.create
        import zarr

        self.path = path
        self.url = url
        self._arrays_path = path / arrays_name
        self._repaired = False
        self.engine = db.make_engine(url)
        #: how errors name the database: the SQLite file, or the URL without its password
        self.where = str(path / DB_NAME) if url.startswith("sqlite") else db.safe_url(url)
        db.check_schema(self.engine, self.where)
        try:
            self._group = zarr.open_group(str(self._arrays_path), mode="r+")
            self.ft = self._group["ft"]
            self.dmt = self._group["dmt"]
        except Exception as err:  # zarr raises many kinds for a broken store
            self.engine.dispose()
            raise InputError(self._arrays_path, f"corrupt or missing zarr store ({err})") from err
        for name, arr in (("ft", self.ft), ("dmt", self.dmt)):
            if arr.ndim != 3 or tuple(arr.shape[1:]) != IMAGE_SHAPE or arr.dtype != np.float32:
                self.engine.dispose()
                raise InputError(self._arrays_path / name,
                                 f"expected (N, {IMAGE_SIZE}, {IMAGE_SIZE}) float32, found "
                                 f"{arr.shape} {arr.dtype}")
        with self.session() as s:
            n = db.next_row(s)
        if min(self.ft.shape[0], self.dmt.shape[0]) < n:
            self.engine.dispose()
            raise InputError(self._arrays_path,
                             f"the database knows {n} rows but the arrays hold only "
                             f"{min(self.ft.shape[0], self.dmt.shape[0])}; the store was damaged")

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, path: str | os.PathLike[str], url: str | None = None,
               exist_ok: bool = False) -> Workspace:
        """Create a workspace in folder ``path`` (created if missing) and open it.

        ``url`` is the SQLAlchemy URL (default: the SQLite file ``triage.db`` inside).
        If ``path`` already holds a workspace: opens it when ``exist_ok``, else raises
        :class:`InputError`. Refuses (InputError, nothing touched) if ``arrays.zarr`` or
        ``triage.db`` exist without ``frbtriage.toml``.
        """
        import zarr
        from zarr.codecs import BloscCodec

        p = Path(path).expanduser().resolve()
        if (p / CONFIG_NAME).exists():
            if exist_ok:
                return cls.open(p)
            raise InputError(p, "already a workspace (frbtriage.toml exists)")
        if p.exists() and not p.is_dir():
            raise InputError(p, "exists and is not a folder")
        for name in (ARRAYS_NAME, DB_NAME):
            if (p / name).exists():
                raise InputError(p / name, "exists but the folder has no frbtriage.toml; "
                                           "refusing to overwrite it")
        p.mkdir(parents=True, exist_ok=True)
        url = url or DEFAULT_URL
        resolved = url.replace("{workspace}", p.as_posix())
        engine = db.make_engine(resolved)
        try:
            db.create_schema(engine, str(p / DB_NAME) if resolved.startswith("sqlite")
                             else db.safe_url(url))
        finally:
            engine.dispose()
        group = zarr.open_group(str(p / ARRAYS_NAME), mode="w-", zarr_format=3)
        group.attrs["frbtriage"] = {
            "format_version": FORMAT_VERSION,
            "ft": "(N, 256 frequency (row 0 = highest), 256 time) float32",
            "dmt": "(N, 256 DM trials 0..2*DM, 256 time) float32",
        }
        for name in ("ft", "dmt"):
            group.create_array(
                name, shape=(0, *IMAGE_SHAPE), chunks=(1, *IMAGE_SHAPE), dtype="float32",
                compressors=BloscCodec(cname="zstd", clevel=3, shuffle="shuffle"),
                fill_value=0.0,
            )
        text = _CONFIG_TEMPLATE.format(format_version=FORMAT_VERSION,
                                       url=url.replace('"', '\\"'), arrays=ARRAYS_NAME)
        write_text(p / CONFIG_NAME, text)
        return cls.open(p)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open an existing workspace; :class:`InputError` if it is not one or is damaged
        (unreadable ``frbtriage.toml``, store or database). Opening changes nothing, except
        that a database of an older schema is upgraded in place (:mod:`frbtriage.migrations`;
        SQLite files keep a copy of the old one as ``triage.db.v<N>.bak``)."""
        p = Path(path).expanduser().resolve()
        cfg_path = p / CONFIG_NAME
        if not cfg_path.is_file():
            raise InputError(p, "not a workspace (no frbtriage.toml); create one with "
                                "`frbtriage prepare --workspace` or Workspace.create")
        try:
            cfg = tomllib.loads(cfg_path.read_text())
            url = str(cfg["database"]["url"])
            arrays = str(cfg.get("arrays", {}).get("path", ARRAYS_NAME))
            version = int(cfg.get("workspace", {}).get("format_version", FORMAT_VERSION))
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
            raise InputError(cfg_path, f"corrupt workspace settings ({e})") from e
        if version > FORMAT_VERSION:
            raise InputError(cfg_path, f"workspace format {version} is newer than this "
                                       f"frbtriage understands ({FORMAT_VERSION})")
        url = url.replace("{workspace}", p.as_posix())
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
            raise InputError(url[len("sqlite:///"):], "workspace database is missing")
        return cls(p, url, arrays)

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open the workspace at ``path``, creating it first if the folder holds none."""
        p = Path(path).expanduser()
        if (p / CONFIG_NAME).exists():
            return cls.open(p)
        return cls.create(p)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, {len(self)} candidates)"

    # ------------------------------------------------------------------ reading
    def session(self) -> Session:
        """A new ORM session (use as a context manager; ``expire_on_commit=False``)."""
        return Session(self.engine, expire_on_commit=False)

    def __len__(self) -> int:
        """Number of committed candidates."""
        with self.session() as s:
            return db.count_candidates(s)

    def candidates(self, ids: Sequence[int] | None = None) -> list[db.CandidateRecord]:
        """Candidate records (all, or those with ``ids``), ordered by id."""
        q = select(db.CandidateRecord).order_by(db.CandidateRecord.id)
        if ids is not None:
            q = q.where(db.CandidateRecord.id.in_([int(i) for i in ids]))
        with self.session() as s:
            return list(s.scalars(q))

    def candidate(self, cid: int) -> db.CandidateRecord:
        """The record of candidate ``cid``; ``KeyError`` if there is none."""
        with self.session() as s:
            rec = s.get(db.CandidateRecord, int(cid))
        if rec is None:
            raise KeyError(f"no candidate with id {cid} in {self.path}")
        return rec

    def images(self, rows: Sequence[int] | NDArray[np.integer]
               ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """``(ft, dmt)`` of the given zarr ``rows``, each ``(len(rows), 256, 256)`` float32.

        A chunk that cannot be read (damaged on disk) raises :class:`InputError` naming it and
        its candidate; reads that do not touch it are unaffected."""
        r = np.asarray(rows, dtype=np.int64).reshape(-1)
        if r.size == 0:
            empty = np.zeros((0, *IMAGE_SHAPE), dtype=np.float32)
            return empty, empty.copy()
        if r.min() < 0 or r.max() >= self.ft.shape[0]:
            raise IndexError(f"rows outside 0..{self.ft.shape[0] - 1}")
        try:
            if np.all(np.diff(r) == 1):
                sl = slice(int(r[0]), int(r[-1]) + 1)
                return np.asarray(self.ft[sl]), np.asarray(self.dmt[sl])
            sel = (r, slice(None), slice(None))
            return (np.asarray(self.ft.get_orthogonal_selection(sel)),
                    np.asarray(self.dmt.get_orthogonal_selection(sel)))
        except Exception as err:  # zarr/numcodecs raise many kinds for a damaged chunk
            raise self._damaged_row(r, err) from err

    def _damaged_row(self, rows: NDArray[np.int64], err: Exception) -> InputError:
        """The error for a failed read of ``rows``: names the first row whose chunk cannot be
        read, row by row (the other rows stay readable), and the candidate that owns it."""
        for row in rows:
            for name, arr in (("ft", self.ft), ("dmt", self.dmt)):
                try:
                    arr[int(row)]
                except Exception as bad:  # noqa: BLE001 - any failure marks the chunk
                    with self.session() as s:
                        cid = s.scalar(select(db.CandidateRecord.id)
                                       .where(db.CandidateRecord.row == int(row)))
                    chunk = self._arrays_path / name / "c" / str(int(row)) / "0" / "0"
                    return InputError(chunk, f"damaged image chunk of candidate {cid} (row "
                                             f"{int(row)}): {type(bad).__name__}: {bad}")
        return InputError(self._arrays_path, f"cannot read images: {type(err).__name__}: {err}")

    def candidate_images(self, cid: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """``(ft, dmt)`` of candidate ``cid``, each (256, 256) float32."""
        ft, dmt = self.images([self.candidate(cid).row])
        return ft[0], dmt[0]

    def known_keys(self, files: Sequence[str]) -> set[tuple[str, int, int, int]]:
        """Duplicate keys already stored for candidates of ``files`` (absolute paths)."""
        with self.session() as s:
            return db.existing_keys(s, files)

    def ids_of(self, keys: Iterable[db.CandidateKey]) -> dict[db.CandidateKey, int]:
        """Ids of the stored candidates among duplicate ``keys`` (:func:`db.candidate_key`),
        by key; keys not stored are left out."""
        keys = set(keys)
        with self.session() as s:
            stored = db.stored_ids(s, {k[0] for k in keys})
        return {k: cid for k, cid in stored.items() if k in keys}

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive lock on this workspace for one writer at a time (this host)."""
        with open(self.path / LOCK_NAME, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _set_rows(self, n: int) -> None:
        for arr in (self.ft, self.dmt):
            if arr.shape[0] != n:
                arr.resize((n, *IMAGE_SHAPE))

    def repair(self) -> int:
        """Cut the arrays back to the rows the database knows and delete temporary files
        an interrupted write left behind. Returns the number of orphan rows removed."""
        with self.write_lock():
            return self._repair_locked()

    def _repair_locked(self) -> int:
        with self.session() as s:
            n = db.next_row(s)
        orphans = max(self.ft.shape[0], self.dmt.shape[0]) - n
        self._set_rows(n)
        if not self._repaired:
            for tmp in self._arrays_path.rglob("*.partial"):
                tmp.unlink(missing_ok=True)
            self._repaired = True
        if orphans:
            log.info("%s: removed %d orphan array rows of an interrupted run",
                     self._arrays_path, orphans)
        return orphans

    def append(self, cands: Sequence[NewCandidate], ft: NDArray[np.float32],
               dmt: NDArray[np.float32]) -> list[int]:
        """Store candidates with their images, all together or none.

        ``ft`` and ``dmt`` are ``(len(cands), 256, 256)``. Candidates whose key is already
        stored (or repeated within ``cands``) are skipped. Returns the ids of the new
        records, in the order of ``cands`` (skipped ones left out).
        """
        ft = np.asarray(ft, dtype=np.float32)
        dmt = np.asarray(dmt, dtype=np.float32)
        k_all = len(cands)
        if ft.shape != (k_all, *IMAGE_SHAPE) or dmt.shape != (k_all, *IMAGE_SHAPE):
            raise ValueError(f"ft and dmt must be ({k_all}, {IMAGE_SIZE}, {IMAGE_SIZE}), got "
                             f"{ft.shape}, {dmt.shape}")
        if k_all == 0:
            return []
        sources = {c.label_source for c in cands if c.label is not None}
        if not sources <= set(db.TRUTH_SOURCES):
            raise ValueError(f"label_source must be one of {db.TRUTH_SOURCES}, got {sources}")
        with self.write_lock():
            self._repair_locked()
            with self.session() as s:
                n = db.next_row(s)
                seen = db.existing_keys(s, [c.file for c in cands])
            keep = []
            for i, c in enumerate(cands):
                key = c.key()
                if key not in seen:
                    seen.add(key)
                    keep.append(i)
            if not keep:
                return []
            k = len(keep)
            idx = np.asarray(keep)
            try:
                self._set_rows(n + k)
                self.ft[n : n + k] = ft[idx]
                self.dmt[n : n + k] = dmt[idx]
            except OSError as err:  # e.g. the disk is full: the committed rows are untouched
                with contextlib.suppress(OSError):
                    self._set_rows(n)  # else the next append cuts the orphans off
                raise InputError(self._arrays_path, f"could not write images "
                                                    f"({err.strerror or err})") from err
            now = db.utcnow()
            recs = [
                db.CandidateRecord(
                    file=c.file, tcand=float(c.tcand), dm=float(c.dm), width=int(c.width),
                    snr=float(c.snr), row=n + j, padded=bool(c.padded), origin=c.origin,
                    dmt_available=bool(c.dmt_available), f_hi_mhz=c.f_hi_mhz,
                    f_lo_mhz=c.f_lo_mhz, pixel_s=c.pixel_s, dispersion_index=c.dispersion_index,
                    dispersion_err=c.dispersion_err, dispersion_delay_s=c.dispersion_delay_s,
                    tcand_key=db.tcand_key(c.tcand), dm_key=db.dm_key(c.dm), created=now,
                    labels=[] if c.label is None else [db.LabelRecord(
                        source=c.label_source, value=float(int(c.label)), weight=1.0,
                        ref=c.origin, created=now)])
                for j, c in enumerate(cands[i] for i in keep)
            ]
            try:
                with self.session() as s, s.begin():
                    s.add_all(recs)
            except IntegrityError:
                self._set_rows(n)
                raise
            except SQLAlchemyError as err:
                self._set_rows(n)
                raise InputError(self.where,
                                 f"could not write to the database ({db.short_error(err)})"
                                 ) from err
            return [r.id for r in recs]


# --------------------------------------------------------------------------- FETCH h5 interop


@dataclass
class InteropSummary:
    """Result of :func:`export_fetch_h5` / :func:`import_fetch_h5`: files written or
    candidates added, duplicates already stored, and ``(path, problem)`` of files skipped."""

    done: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


def export_fetch_h5(ws: Workspace, out_dir: str | os.PathLike[str],
                    ids: Sequence[int] | None = None, progress: bool = False) -> InteropSummary:
    """Write candidates (all, or ``ids``) as FETCH ``.h5`` files into ``out_dir``.

    File names are your's candidate ids (``cand_tstart_..._snr_....h5``; ``_<id>`` is added
    when two candidates would share one). The data file's header is read for the FETCH
    attributes when the file still exists. Our ``padded`` flag, id and origin travel as extra
    attributes ``frbtriage_padded``, ``frbtriage_id``, ``frbtriage_origin``.
    """
    from tqdm import tqdm

    from frbtriage.io.candidates import Candidate
    from frbtriage.io.fetch_h5 import cand_id, write_fetch_h5
    from frbtriage.io.open_data import read_data_header

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    headers: dict[str, Header | None] = {}
    used: set[str] = set()
    summary = InteropSummary()
    recs = ws.candidates(ids)
    for rec in tqdm(recs, unit="cand", desc="export-h5", disable=not progress):
        if rec.file not in headers:
            try:
                headers[rec.file] = read_data_header(rec.file)
            except InputError as err:
                log.info("%s: header unavailable (%s); exporting without it", rec.file,
                         err.problem)
                headers[rec.file] = None
        header = headers[rec.file]
        cand = Candidate(file=rec.file, tcand=rec.tcand, dm=rec.dm, width=rec.width,
                         snr=rec.snr, label=rec.label, origin=rec.origin)
        name = cand_id(cand, header.tstart if header is not None else 0.0)
        if name in used:
            name = f"{name}_{rec.id}"
        used.add(name)
        ft, dmt = ws.images([rec.row])
        path = write_fetch_h5(out / f"{name}.h5", cand, ft[0], dmt[0], header,
                              extra_attrs={"frbtriage_padded": bool(rec.padded),
                                           "frbtriage_id": int(rec.id),
                                           "frbtriage_origin": rec.origin})
        summary.paths.append(path)
        summary.done += 1
    return summary


class _AppendBatch:
    """FETCH candidates waiting to be appended to a workspace together (one transaction per
    :meth:`flush`), counted into an :class:`InteropSummary`."""

    def __init__(self, ws: Workspace, summary: InteropSummary, size: int) -> None:
        self.ws = ws
        self.summary = summary
        self.size = size
        self.cands: list[NewCandidate] = []
        self.fts: list[NDArray[np.float32]] = []
        self.dmts: list[NDArray[np.float32]] = []

    def add(self, cand: NewCandidate, ft: NDArray[np.float32], dmt: NDArray[np.float32]) -> None:
        """Queue one candidate with its (256, 256) images; appends when the batch is full."""
        self.cands.append(cand)
        self.fts.append(ft)
        self.dmts.append(dmt)
        if len(self.cands) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Append the queued candidates (duplicates count as ``already``) and empty the queue."""
        if self.cands:
            added = self.ws.append(self.cands, np.stack(self.fts), np.stack(self.dmts))
            self.summary.done += len(added)
            self.summary.already += len(self.cands) - len(added)
            self.cands, self.fts, self.dmts = [], [], []


def fetch_h5_candidate(path: str | os.PathLike[str], cand: Candidate,
                       ft: NDArray[np.float32], attrs: Mapping[str, object]) -> NewCandidate:
    """The record of a candidate read from the FETCH ``.h5`` file ``path``
    (:func:`frbtriage.io.fetch_h5.read_fetch_h5`): its data file (the one the file names,
    else the file itself, as an absolute path), ``padded`` from frbtriage's own attribute,
    the ``ft`` image's axes from the file's attributes, its dispersion index measured
    (:func:`frbtriage.dispersion.measure`). ``import-h5`` and ``rank`` store the same record."""
    from frbtriage.dispersion import measure
    from frbtriage.io.fetch_h5 import image_axes

    f_hi, f_lo, pixel_s = image_axes(attrs, cand.width)
    return measure(NewCandidate(
        file=os.path.abspath(cand.file or os.fspath(path)), tcand=float(cand.tcand),
        dm=float(cand.dm), width=int(cand.width), snr=float(cand.snr), label=cand.label,
        padded=bool(attrs.get("frbtriage_padded", False)),
        origin=cand.origin or f"fetch_h5:{os.path.abspath(path)}", f_hi_mhz=f_hi,
        f_lo_mhz=f_lo, pixel_s=pixel_s), ft)


def import_fetch_h5(ws: Workspace, paths: Sequence[str | os.PathLike[str]],
                    batch_size: int = 64, progress: bool = False) -> InteropSummary:
    """Bring FETCH ``.h5`` candidate files into the workspace (images + records).

    Files must pass :func:`frbtriage.io.fetch_h5.conform_images` (the rule ``rank`` uses
    too: ``data_dm_time`` present and (256, 256), ``data_freq_time`` with 256 time samples,
    its frequency axis resized to 256 if needed, all values finite); other files and
    unreadable ones are skipped and listed in the summary. Candidates already stored (same
    data file, tcand, DM, width) are counted as ``already``.
    """
    from tqdm import tqdm

    from frbtriage.io.fetch_h5 import conform_images, read_fetch_h5

    summary = InteropSummary()
    batch = _AppendBatch(ws, summary, batch_size)
    for p in tqdm(list(paths), unit="file", desc="import-h5", disable=not progress):
        ps = os.fspath(p)
        try:
            cand, ft, dmt, attrs = read_fetch_h5(ps)
            ft, dmt = conform_images(ps, ft, dmt, IMAGE_SHAPE)
        except InputError as err:
            summary.skipped.append((ps, err.problem))
            log.warning("skipped %s", err)
            continue
        batch.add(fetch_h5_candidate(ps, cand, ft, attrs), ft, dmt)
    batch.flush()
    return summary


def import_chime_waterfalls(ws: Workspace, paths: Sequence[str | os.PathLike[str]],
                            batch_size: int = 64, progress: bool = False) -> InteropSummary:
    """Store CHIME/FRB catalogue waterfalls (``*_waterfall.h5``) as already-dedispersed
    candidates: ``ft`` from ``wfall`` (masked channels 0, see
    :func:`frbtriage.io.chime_waterfall.read_chime_waterfall`), an all-zero ``dmt`` with
    ``dmt_available`` False (and ``;dmt=none`` in ``origin``: no DM-time image exists for them;
    see that module for how to score them). Unreadable files are skipped and listed;
    duplicates count as ``already``."""
    from tqdm import tqdm

    from frbtriage.dispersion import measure
    from frbtriage.io.chime_waterfall import read_chime_waterfall

    summary = InteropSummary()
    batch = _AppendBatch(ws, summary, batch_size)
    no_dmt = np.zeros(IMAGE_SHAPE, dtype=np.float32)
    for p in tqdm(list(paths), unit="file", desc="import-chime-waterfall",
                  disable=not progress):
        try:
            w = read_chime_waterfall(p)
        except InputError as err:
            summary.skipped.append((os.fspath(p), err.problem))
            log.warning("skipped %s", err)
            continue
        c = w.candidate
        batch.add(measure(NewCandidate(
            file=c.file, tcand=c.tcand, dm=c.dm, width=c.width, snr=c.snr, origin=c.origin,
            dmt_available=False, f_hi_mhz=w.f_hi_mhz, f_lo_mhz=w.f_lo_mhz,
            pixel_s=w.pixel_s), w.ft), w.ft, no_dmt)
    batch.flush()
    return summary
