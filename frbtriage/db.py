"""The workspace database schema (SQLAlchemy 2 ORM) and the small queries built on it.

The database is the system of record for everything small and mutable: candidate metadata
(and which row of ``arrays.zarr`` holds each candidate's images), the model registry, and
scores per candidate per model version. Later issues add ``volunteers``, ``votes`` and
``queue`` tables by declaring more classes on :class:`Base` (they foreign-key
``candidates.id`` and ``models.version``); :func:`create_schema` creates whatever tables are
missing, so an older workspace gains new tables when it is next opened.

Any SQLAlchemy URL works (SQLite file by default, PostgreSQL when several hosts share a
workspace). Column types are portable: floats, integers, strings, timestamps in UTC.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from frbtriage.errors import InputError

#: Bumped when a table changes incompatibly; stored in the ``meta`` table.
SCHEMA_VERSION = 1

#: Resolution of the duplicate key: tcand to 0.1 ms, DM to 0.01 pc cm^-3.
TCAND_KEY_SCALE = 1e4
DM_KEY_SCALE = 1e2


def utcnow() -> dt.datetime:
    """Current UTC time (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


def tcand_key(tcand: float) -> int:
    """``tcand`` (s) rounded to 0.1 ms, as the integer used in the unique key."""
    return int(round(float(tcand) * TCAND_KEY_SCALE))


def dm_key(dm: float) -> int:
    """``dm`` (pc cm^-3) rounded to 0.01, as the integer used in the unique key."""
    return int(round(float(dm) * DM_KEY_SCALE))


#: The duplicate key of a candidate: (absolute file path, tcand_key, dm_key, width).
CandidateKey = tuple[str, int, int, int]


def candidate_key(file: str, tcand: float, dm: float, width: int) -> CandidateKey:
    """The duplicate key ``(absolute file path, tcand_key, dm_key, width)`` of a candidate."""
    return (os.path.abspath(file), tcand_key(tcand), dm_key(dm), int(width))


class Base(DeclarativeBase):
    """Declarative base of every workspace table."""


class Meta(Base):
    """Key/value facts about the database itself (``schema_version``, ``created``)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class CandidateRecord(Base):
    """One prepared candidate: its parameters and the row of ``arrays.zarr`` holding its
    ``ft`` and ``dmt`` images.

    ``file`` is the absolute path of the data file the images were made from; ``tcand`` in
    seconds from the file start at the top of the band; ``dm`` in pc cm^-3; ``width`` in
    samples; ``label`` 1 = astrophysical, 0 = not, NULL = unknown; ``padded`` True when the
    window ran past an end of the file and was filled; ``origin`` names where the candidate
    came from (e.g. ``"csv:/path/cands.csv"``, ``"heimdall:..."``, ``"fetch-h5:..."``).
    ``(file, tcand_key, dm_key, width)`` is unique, so the same list prepared twice adds
    nothing.
    """

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("file", "tcand_key", "dm_key", "width", name="uq_candidate"),
        Index("ix_candidates_label", "label"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file: Mapped[str] = mapped_column(String(1024))
    tcand: Mapped[float] = mapped_column(Float)
    dm: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    snr: Mapped[float] = mapped_column(Float)
    label: Mapped[int | None] = mapped_column(Integer, nullable=True)
    row: Mapped[int] = mapped_column(Integer, unique=True)
    padded: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(1024), default="")
    tcand_key: Mapped[int] = mapped_column(Integer)
    dm_key: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def key(self) -> tuple[str, int, int, int]:
        """The duplicate key ``(file, tcand_key, dm_key, width)``."""
        return (self.file, self.tcand_key, self.dm_key, self.width)


class ModelRecord(Base):
    """A registered model version (``frbtriage.model``'s ``ModelConfig.version``).

    ``path`` is the model folder (safetensors + JSON); ``sha256`` of the weights;
    ``status`` one of ``"candidate"``, ``"current"``, ``"retired"`` (at most one current);
    ``metrics`` a JSON string of its evaluation; ``parent`` the version it was retrained from.
    """

    __tablename__ = "models"
    version: Mapped[str] = mapped_column(String(128), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    metrics: Mapped[str] = mapped_column(Text, default="{}")
    parent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScoreRecord(Base):
    """The score of one candidate by one model version: calibrated ensemble-mean
    ``p_astro`` (0..1), member spread ``p_std``, and BALD mutual information ``bald`` (nats)."""

    __tablename__ = "scores"
    __table_args__ = (Index("ix_scores_model", "model_version"),)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True
    )
    model_version: Mapped[str] = mapped_column(
        ForeignKey("models.version", ondelete="CASCADE"), primary_key=True
    )
    p_astro: Mapped[float] = mapped_column(Float)
    p_std: Mapped[float] = mapped_column(Float)
    bald: Mapped[float] = mapped_column(Float)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - driver hook
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite turns on foreign keys and a 30 s busy timeout."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def create_schema(engine: Engine, where: str | None = None) -> None:
    """Create every missing table and record the schema version (new databases).

    Raises :class:`InputError` naming ``where`` (the database path or URL) if the database
    cannot be read or written, or holds a newer schema version.
    """
    where = where or str(engine.url)
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as s, s.begin():
            row = s.get(Meta, "schema_version")
            if row is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
                s.add(Meta(key="created", value=utcnow().isoformat()))
            elif int(row.value) > SCHEMA_VERSION:
                raise InputError(where, f"database schema version {row.value} is newer than "
                                        f"this frbtriage understands ({SCHEMA_VERSION})")
    except (DatabaseError, SQLAlchemyError, ValueError) as err:
        raise InputError(where, f"not a usable frbtriage database ({_short(err)})") from err


def check_schema(engine: Engine, where: str | None = None) -> None:
    """Check that an existing database is an frbtriage workspace database.

    Creates tables that a newer frbtriage added (harmless), but never alters or drops data.
    Raises :class:`InputError` if the file is not a database, lacks the ``candidates``
    table, or has an unknown schema version.
    """
    where = where or str(engine.url)
    try:
        names = set(inspect(engine).get_table_names())
    except (DatabaseError, SQLAlchemyError) as err:
        raise InputError(where, f"not a readable database ({_short(err)})") from err
    if "candidates" not in names or "meta" not in names:
        raise InputError(where, "database has no frbtriage tables (not a workspace database)")
    cols = {c["name"] for c in inspect(engine).get_columns("candidates")}
    missing = set(CandidateRecord.__table__.columns.keys()) - cols
    if missing:
        raise InputError(where, f"candidates table lacks columns {sorted(missing)}")
    create_schema(engine, where)


def _short(err: Exception) -> str:
    text = str(getattr(err, "orig", None) or err)
    return text.splitlines()[0][:200] if text else type(err).__name__


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class ScoreRow:
    """One score as plain values."""

    candidate_id: int
    model_version: str
    p_astro: float
    p_std: float
    bald: float


def count_candidates(session: Session) -> int:
    """Number of candidate rows (= rows of the zarr arrays that are committed)."""
    return int(session.scalar(select(func.count()).select_from(CandidateRecord)) or 0)


def next_row(session: Session) -> int:
    """The zarr row the next candidate gets: ``max(row) + 1`` (0 for an empty table)."""
    top = session.scalar(select(func.max(CandidateRecord.row)))
    return 0 if top is None else int(top) + 1


def stored_ids(session: Session, files: Iterable[str]) -> dict[CandidateKey, int]:
    """Ids of the candidates stored for ``files`` (absolute paths), by duplicate key
    ``(file, tcand_key, dm_key, width)``."""
    files = sorted(set(files))
    out: dict[CandidateKey, int] = {}
    for i in range(0, len(files), 500):
        q = select(CandidateRecord.file, CandidateRecord.tcand_key, CandidateRecord.dm_key,
                   CandidateRecord.width, CandidateRecord.id).where(
                       CandidateRecord.file.in_(files[i : i + 500]))
        out.update({(f, int(t), int(d), int(w)): int(cid)
                    for f, t, d, w, cid in session.execute(q)})
    return out


def existing_keys(session: Session, files: Iterable[str]) -> set[tuple[str, int, int, int]]:
    """Duplicate keys ``(file, tcand_key, dm_key, width)`` already stored for ``files``."""
    return set(stored_ids(session, files))


def register_model(session: Session, version: str, *, path: str = "", sha256: str = "",
                   status: str = "candidate", metrics: str = "{}",
                   parent: str | None = None) -> ModelRecord:
    """Add (or update the path/sha/metrics of) the model ``version``; returns its record.

    ``status="current"`` retires the previous current model. The caller commits.
    """
    if status not in ("candidate", "current", "retired"):
        raise ValueError(f"model status must be candidate, current or retired, got {status!r}")
    rec = session.get(ModelRecord, version)
    if rec is None:
        rec = ModelRecord(version=version)
        session.add(rec)
    rec.path, rec.sha256, rec.metrics, rec.parent = path, sha256, metrics, parent
    if status == "current":
        for other in session.scalars(select(ModelRecord).where(ModelRecord.status == "current")):
            if other.version != version:
                other.status = "retired"
    rec.status = status
    session.flush()
    return rec


def current_model(session: Session) -> ModelRecord | None:
    """The model whose status is ``"current"``, or None."""
    return session.scalars(select(ModelRecord).where(ModelRecord.status == "current")).first()


def add_scores(session: Session, model_version: str, candidate_ids: Sequence[int],
               p_astro: Sequence[float], p_std: Sequence[float], bald: Sequence[float]) -> int:
    """Insert or replace the scores of ``candidate_ids`` by ``model_version``.

    Registers the model version (status ``"candidate"``) if it is not yet known. All arrays
    have the same length ``n``; values must be finite. Returns ``n``. The caller commits
    (use ``with session.begin():`` so a batch lands whole or not at all).
    """
    ids = np.asarray(candidate_ids, dtype=np.int64)
    cols = [np.asarray(a, dtype=np.float64) for a in (p_astro, p_std, bald)]
    if any(c.shape != ids.shape for c in cols) or ids.ndim != 1:
        raise ValueError("candidate_ids, p_astro, p_std and bald must be 1-D of equal length")
    if not all(np.all(np.isfinite(c)) for c in cols):
        raise ValueError("scores must be finite")
    if session.get(ModelRecord, model_version) is None:
        session.add(ModelRecord(version=model_version))
        session.flush()
    for i, (pa, ps, b) in enumerate(zip(*cols, strict=True)):
        rec = ScoreRecord(candidate_id=int(ids[i]), model_version=model_version,
                          p_astro=float(pa), p_std=float(ps), bald=float(b), created=utcnow())
        session.merge(rec)
    session.flush()
    return int(ids.size)


def read_scores(session: Session, model_version: str,
                candidate_ids: Sequence[int] | None = None) -> list[ScoreRow]:
    """Scores by ``model_version`` (all, or only of ``candidate_ids``), ordered by candidate id."""
    q = select(ScoreRecord).where(ScoreRecord.model_version == model_version)
    if candidate_ids is not None:
        q = q.where(ScoreRecord.candidate_id.in_([int(i) for i in candidate_ids]))
    return [ScoreRow(r.candidate_id, r.model_version, r.p_astro, r.p_std, r.bald)
            for r in session.scalars(q.order_by(ScoreRecord.candidate_id))]


def unscored_candidates(session: Session, model_version: str,
                        limit: int | None = None) -> list[CandidateRecord]:
    """Candidates with no score by ``model_version``, ordered by id (= zarr row order)."""
    scored = select(ScoreRecord.candidate_id).where(ScoreRecord.model_version == model_version)
    q = select(CandidateRecord).where(CandidateRecord.id.not_in(scored)).order_by(
        CandidateRecord.id)
    if limit is not None:
        q = q.limit(int(limit))
    return list(session.scalars(q))

