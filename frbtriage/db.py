"""The workspace database schema (SQLAlchemy 2 ORM) and the small queries built on it.

The database is the system of record for everything small and mutable: candidate metadata
(and which row of ``arrays.zarr`` holds each candidate's images), labels with their
provenance, the model registry, and scores per candidate per model version. Tables are
declared as classes on :class:`Base`; a new database gets them all from
:func:`create_schema`, an existing one is brought up to :data:`SCHEMA_VERSION` by the
numbered steps of :mod:`frbtriage.migrations` when it is opened (:func:`check_schema`).

Any SQLAlchemy URL works (SQLite file by default, PostgreSQL when several hosts share a
workspace). Column types are portable: floats, integers, strings, timestamps in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from frbtriage.errors import InputError

#: Version of the schema declared here; stored in the ``meta`` table. Every bump comes with
#: an upgrade step in :mod:`frbtriage.migrations` (version 2: the ``labels`` table;
#: version 3: volunteers, votes, the volunteer queue and its assignments, models' training,
#: ``candidates.tcand_key`` 64-bit; version 4: the nightly job's data files, stat cache, runs;
#: version 5: ``candidates.dmt_available``).
SCHEMA_VERSION = 6

#: Where a label came from. ``simulation``: the truth table of a simulated observation;
#: ``list``: the label column of an imported candidate list (your/FETCH CSV, FETCH .h5);
#: ``expert``: a researcher's judgement; ``votes``: volunteers' votes, aggregated.
LABEL_SOURCES = ("simulation", "list", "expert", "votes")
#: Sources of a candidate's known ("truth") label, most trusted first; ``votes`` is an
#: estimate and is not among them.
TRUTH_SOURCES = ("expert", "simulation", "list")

#: Resolution of the duplicate key: tcand to 0.1 ms, DM to 0.01 pc cm^-3.
TCAND_KEY_SCALE = 1e4
DM_KEY_SCALE = 1e2


def utcnow() -> dt.datetime:
    """Current UTC time (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


def as_utc(t: dt.datetime) -> dt.datetime:
    """``t`` as a timezone-aware UTC time (SQLite hands stored times back naive)."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


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
    samples; ``padded`` True when the window ran past an end of the file and was filled;
    ``origin`` names where the candidate came from (e.g. ``"csv:/path/cands.csv"``,
    ``"heimdall:..."``, ``"fetch-h5:..."``); ``dmt_available`` False when no DM-time image
    exists (an already-dedispersed CHIME catalogue waterfall: its stored ``dmt`` is zeros,
    not data). ``f_hi_mhz`` / ``f_lo_mhz``: the top and bottom edges of the band the ``ft``
    image's rows cover evenly (row 0 highest), ``pixel_s`` the time between its columns
    (None for candidates stored before schema 6, or from sources that do not say);
    ``dispersion_index`` +- ``dispersion_err``: the exponent of its sweep measured from the
    ``ft`` image (2 for cold plasma; :mod:`frbtriage.dispersion`) and ``dispersion_delay_s``
    the fitted delay of the band's bottom after its top (negative: a reversed sweep), None
    when not measured.
    ``labels`` are its :class:`LabelRecord` rows
    (loaded with it); :attr:`label` is the most trusted known label among them.
    ``(file, tcand_key, dm_key, width)`` is unique, so the same list prepared twice adds
    nothing.
    """

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("file", "tcand_key", "dm_key", "width", name="uq_candidate"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file: Mapped[str] = mapped_column(String(1024))
    tcand: Mapped[float] = mapped_column(Float)
    dm: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    snr: Mapped[float] = mapped_column(Float)
    row: Mapped[int] = mapped_column(Integer, unique=True)
    padded: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str] = mapped_column(String(1024), default="")
    dmt_available: Mapped[bool] = mapped_column(Boolean, default=True)
    f_hi_mhz: Mapped[float | None] = mapped_column(Float, nullable=True)
    f_lo_mhz: Mapped[float | None] = mapped_column(Float, nullable=True)
    pixel_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    dispersion_index: Mapped[float | None] = mapped_column(Float, nullable=True)
    dispersion_err: Mapped[float | None] = mapped_column(Float, nullable=True)
    dispersion_delay_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    tcand_key: Mapped[int] = mapped_column(BigInteger)  # 0.1 ms units: > 2^31 after 60 h
    dm_key: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    labels: Mapped[list[LabelRecord]] = relationship(
        back_populates="candidate", lazy="selectin", cascade="all, delete-orphan",
        passive_deletes=True)

    def key(self) -> tuple[str, int, int, int]:
        """The duplicate key ``(file, tcand_key, dm_key, width)``."""
        return (self.file, self.tcand_key, self.dm_key, self.width)

    def label_from(self, source: str) -> LabelRecord | None:
        """This candidate's label from ``source`` (one of :data:`LABEL_SOURCES`), or None."""
        return next((lab for lab in self.labels if lab.source == source), None)

    @property
    def truth(self) -> LabelRecord | None:
        """The most trusted known label (first of :data:`TRUTH_SOURCES` present), or None."""
        for source in TRUTH_SOURCES:
            lab = self.label_from(source)
            if lab is not None:
                return lab
        return None

    @property
    def label(self) -> int | None:
        """Known class: 1 = astrophysical, 0 = not, None = unknown (from :attr:`truth`,
        rounded; aggregated votes are not a known class)."""
        t = self.truth
        return None if t is None else int(round(t.value))


class LabelRecord(Base):
    """A label of a candidate with its provenance: ``value`` = p(astro) in [0, 1] (0 or 1
    for a hard label), ``weight`` = the evidence behind it (1 for one hard label; the
    effective number of votes for ``votes``), ``source`` one of :data:`LABEL_SOURCES`,
    ``ref`` who or what gave it (the list's origin, a researcher, an aggregation run) and
    ``created`` when. One label per candidate and source: a newer one replaces it.
    """

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("candidate_id", "source", name="uq_label_source"),
        Index("ix_labels_source", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    ref: Mapped[str] = mapped_column(String(1024), default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    candidate: Mapped[CandidateRecord] = relationship(back_populates="labels")


class ModelRecord(Base):
    """A registered model version (``frbtriage.model``'s ``ModelConfig.version``).

    ``path`` is the model folder (safetensors + JSON); ``sha256`` of the weights;
    ``status`` one of :data:`MODEL_STATUSES` (at most one ``"current"``);
    ``metrics`` a JSON string of its evaluation; ``parent`` the version it was retrained from;
    ``training`` a JSON string of what it was trained on (counts, a hash of the ids).
    """

    __tablename__ = "models"
    version: Mapped[str] = mapped_column(String(128), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    metrics: Mapped[str] = mapped_column(Text, default="{}")
    parent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    training: Mapped[str] = mapped_column(Text, default="{}")


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


#: Statuses of a registered model (see :mod:`frbtriage.model.registry`).
MODEL_STATUSES = ("candidate", "current", "retired", "rejected")

#: Roles of the people who use a workspace, least privileged first.
ROLES = ("volunteer", "researcher", "admin")


class VolunteerRecord(Base):
    """A person who votes: unique ``name``, ``display_name``, ``role`` (one of
    :data:`ROLES`), the scrypt hash of their sign-in token with its salt (the token itself
    is never stored), ``active`` (False = disabled: cannot sign in or vote) and ``created``."""

    __tablename__ = "volunteers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16), default="volunteer")
    token_hash: Mapped[str] = mapped_column(String(128), default="")
    token_salt: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoteRecord(Base):
    """One volunteer's answer about one candidate: ``answer`` (``astro`` / ``rfi`` /
    ``cant_tell``), ``tags`` (comma-separated, sorted), ``seconds`` taken to answer (None if
    unknown), ``model_version`` shown with it (None if none), ``source`` where it was made
    (``app``, ``import:<file>``, ``zooniverse:<file>``) and ``created``. At most one vote per
    volunteer and candidate: the database enforces it (``uq_vote``)."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("candidate_id", "volunteer_id", name="uq_vote"),
        Index("ix_votes_volunteer", "volunteer_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(String(16))
    tags: Mapped[str] = mapped_column(String(256), default="")
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str] = mapped_column(String(1024), default="app")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QueueRecord(Base):
    """A candidate offered to volunteers: ``priority`` (higher first), ``reason`` it was
    picked (``bald`` / ``entropy`` / ``margin`` / ``random`` / ``gold``), the
    ``model_version`` whose scores picked it, ``created``, and ``retired`` (its label is
    confident enough: it is no longer served) with ``retired_at``."""

    __tablename__ = "queue"
    __table_args__ = (Index("ix_queue_open", "retired", "priority"),)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True)
    priority: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)


class AssignmentRecord(Base):
    """A candidate served to a volunteer (``served`` time). Unique per volunteer and
    candidate, so concurrent requests never serve one volunteer the same candidate twice;
    an assignment without a vote is served again first (a reload loses nothing)."""

    __tablename__ = "assignments"
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True)
    served: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DataFileRecord(Base):
    """A data file the nightly job has finished, by the SHA-256 of its content (a renamed or
    copied file is the same file): its ``path`` then, ``size`` bytes, ``source`` of its
    candidates (``"search"`` or the candidate list's path), candidates ``found`` and
    ``added`` by that run, and when it was ``processed``."""

    __tablename__ = "data_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(1024))
    found: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    processed: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FileStatRecord(Base):
    """What a path held when last hashed (``size`` bytes, ``mtime_ns``, ``sha256``), so an
    unchanged file is not read again to be hashed (as git's index does)."""

    __tablename__ = "file_stats"
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class NightlyRunRecord(Base):
    """A finished nightly run: ``started``, ``finished`` (UTC) and its exit ``status``."""

    __tablename__ = "nightly_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------- engine


#: How long SQLite waits for another process's lock before giving up, seconds; the
#: environment variable ``FRBTRIAGE_DB_TIMEOUT`` overrides it (tests shorten it).
BUSY_TIMEOUT_S = 30.0


def busy_timeout_s() -> float:
    """The SQLite busy timeout in seconds: ``FRBTRIAGE_DB_TIMEOUT`` when set, else
    :data:`BUSY_TIMEOUT_S`; :class:`InputError` when the variable is not seconds >= 0."""
    text = os.environ.get("FRBTRIAGE_DB_TIMEOUT")
    if text is None:
        return BUSY_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e6:
        raise InputError("FRBTRIAGE_DB_TIMEOUT", f"{text!r} is not a number of seconds >= 0")
    return value


def _sqlite_pragmas(dbapi_conn, _record, timeout_ms: int) -> None:  # pragma: no cover - hook
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={timeout_ms}")
    # write-ahead log: readers never block the writer (the app serves while votes land)
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


#: Connection pool: the app and the concurrency tests serve ~50 threads at once; a pool
#: smaller than that makes threads queue for a connection instead of for the database.
_POOL = {"pool_size": 10, "max_overflow": 50, "pool_timeout": 120}


def safe_url(url: str) -> str:
    """``url`` with its password (if any) masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite turns on foreign keys, a busy timeout
    (:func:`busy_timeout_s`, 30 s unless ``FRBTRIAGE_DB_TIMEOUT`` says otherwise) and the
    write-ahead log (``triage.db-wal`` / ``-shm`` appear beside the file while it is open)."""
    try:
        parsed = make_url(url)
        in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "",
                                                                                  ":memory:")
        engine = create_engine(parsed, future=True, **({} if in_memory else _POOL))
    except ModuleNotFoundError as err:
        raise InputError(safe_url(url), f"the database driver {err.name!r} is not installed "
                                        "(for PostgreSQL: pip install 'frbtriage[postgres]')"
                         ) from err
    except ArgumentError as err:
        raise InputError(safe_url(url), f"not a database URL ({err})") from err
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect",
                     functools.partial(_sqlite_pragmas, timeout_ms=round(busy_timeout_s() * 1000)))
    return engine


def create_schema(engine: Engine, where: str | None = None) -> None:
    """Create every table of a new, empty database and record :data:`SCHEMA_VERSION`.

    Raises :class:`InputError` naming ``where`` (the database path or URL) if the database
    cannot be written or already holds tables.
    """
    where = where or safe_url(str(engine.url))
    try:
        if inspect(engine).get_table_names():
            raise InputError(where, "database already holds tables; open it as a workspace "
                                    "instead of creating one")
        Base.metadata.create_all(engine)
        with Session(engine) as s, s.begin():
            s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            s.add(Meta(key="created", value=utcnow().isoformat()))
    except (DatabaseError, SQLAlchemyError) as err:
        raise InputError(where, f"not a usable frbtriage database ({short_error(err)})") from err


def schema_version(engine: Engine, where: str | None = None) -> int:
    """The schema version recorded in an existing workspace database.

    Raises :class:`InputError` if the database cannot be read or is not a workspace database.
    """
    where = where or safe_url(str(engine.url))
    try:
        names = set(inspect(engine).get_table_names())
        if "candidates" not in names or "meta" not in names:
            raise InputError(where, "database has no frbtriage tables "
                                    "(not a workspace database)")
        with Session(engine) as s:
            row = s.get(Meta, "schema_version")
        return int(row.value) if row is not None else 1
    except (DatabaseError, SQLAlchemyError, ValueError) as err:
        raise InputError(where, f"not a readable database ({short_error(err)})") from err


def check_schema(engine: Engine, where: str | None = None) -> None:
    """Check that an existing database is an frbtriage workspace database and bring an
    older one up to :data:`SCHEMA_VERSION` (:func:`frbtriage.migrations.upgrade`).

    Raises :class:`InputError` if the file is not a database, lacks the frbtriage tables,
    holds a newer schema version than this frbtriage knows, or lacks columns after the
    upgrade.
    """
    from frbtriage import migrations

    where = where or safe_url(str(engine.url))
    version = schema_version(engine, where)
    if version > SCHEMA_VERSION:
        raise InputError(where, f"database schema version {version} is newer than this "
                                f"frbtriage understands ({SCHEMA_VERSION})")
    if version < SCHEMA_VERSION:
        migrations.upgrade(engine, version, where)
    try:
        cols = {c["name"] for c in inspect(engine).get_columns("candidates")}
    except (DatabaseError, SQLAlchemyError) as err:
        raise InputError(where, f"not a readable database ({short_error(err)})") from err
    missing = set(CandidateRecord.__table__.columns.keys()) - cols
    if missing:
        raise InputError(where, f"candidates table lacks columns {sorted(missing)}")


def short_error(err: Exception) -> str:
    """The first line of a database error (without the SQL and parameters), for messages."""
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
    if status not in MODEL_STATUSES:
        raise ValueError(f"model status must be one of {MODEL_STATUSES}, got {status!r}")
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


def _upsert(session: Session, table: Table, rows: list[dict], keys: Sequence[str]) -> None:
    """Insert ``rows`` into ``table``, replacing the other columns of rows whose ``keys``
    already exist: one ``INSERT .. ON CONFLICT DO UPDATE`` executed for all rows (SQLite and
    PostgreSQL), or a delete and an insert in the caller's transaction elsewhere."""
    if not rows:
        return
    name = session.get_bind().dialect.name
    if name in ("sqlite", "postgresql"):
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: stmt.excluded[c] for c in rows[0] if c not in keys})
        session.execute(stmt, rows)
        return
    for row in rows:
        session.execute(delete(table).where(*(table.c[k] == row[k] for k in keys)))
    session.execute(table.insert(), rows)


def add_scores(session: Session, model_version: str, candidate_ids: Sequence[int],
               p_astro: Sequence[float], p_std: Sequence[float], bald: Sequence[float]) -> int:
    """Insert or replace the scores of ``candidate_ids`` by ``model_version`` (one statement).

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
    now = utcnow()
    rows = [{"candidate_id": int(i), "model_version": model_version, "p_astro": float(pa),
             "p_std": float(ps), "bald": float(b), "created": now}
            for i, pa, ps, b in zip(ids.tolist(), *cols, strict=True)]
    _upsert(session, ScoreRecord.__table__, rows, ("candidate_id", "model_version"))
    return int(ids.size)


def set_labels(session: Session, source: str, candidate_ids: Sequence[int],
               values: Sequence[float], weights: Sequence[float] | None = None,
               ref: str = "") -> int:
    """Insert or replace the ``source`` labels of ``candidate_ids`` (one statement).

    ``values`` p(astro) in [0, 1] (0 / 1 for a hard label); ``weights`` > 0 (default 1);
    ``source`` one of :data:`LABEL_SOURCES`; ``ref`` who or what gave them. Returns the
    number of labels written. The caller commits.
    """
    if source not in LABEL_SOURCES:
        raise ValueError(f"label source must be one of {LABEL_SOURCES}, got {source!r}")
    ids = np.asarray(candidate_ids, dtype=np.int64)
    vals = np.asarray(values, dtype=np.float64)
    w = np.ones_like(vals) if weights is None else np.asarray(weights, dtype=np.float64)
    if ids.ndim != 1 or vals.shape != ids.shape or w.shape != ids.shape:
        raise ValueError("candidate_ids, values and weights must be 1-D of equal length")
    if not (np.all((vals >= 0) & (vals <= 1)) and np.all(w > 0) and np.all(np.isfinite(w))):
        raise ValueError("label values must lie in [0, 1] and weights be finite and > 0")
    now = utcnow()
    rows = [{"candidate_id": int(i), "source": source, "value": float(v), "weight": float(x),
             "ref": ref, "created": now}
            for i, v, x in zip(ids.tolist(), vals.tolist(), w.tolist(), strict=True)]
    _upsert(session, LabelRecord.__table__, rows, ("candidate_id", "source"))
    return int(ids.size)


def read_scores(session: Session, model_version: str,
                candidate_ids: Sequence[int] | None = None) -> list[ScoreRow]:
    """Scores by ``model_version`` (all, or only of ``candidate_ids``), ordered by candidate id."""
    q = select(ScoreRecord).where(ScoreRecord.model_version == model_version)
    if candidate_ids is not None:
        q = q.where(ScoreRecord.candidate_id.in_([int(i) for i in candidate_ids]))
    return [ScoreRow(r.candidate_id, r.model_version, r.p_astro, r.p_std, r.bald)
            for r in session.scalars(q.order_by(ScoreRecord.candidate_id))]


def unscored_candidates(session: Session, model_version: str, limit: int | None = None,
                        ids: Iterable[int] | None = None) -> list[CandidateRecord]:
    """Candidates with no score by ``model_version`` (all, or those among ``ids``), ordered
    by id (= zarr row order); selected in SQL."""
    scored = select(ScoreRecord.candidate_id).where(ScoreRecord.model_version == model_version)
    q = select(CandidateRecord).where(CandidateRecord.id.not_in(scored)).order_by(
        CandidateRecord.id)
    if ids is None:
        return list(session.scalars(q if limit is None else q.limit(int(limit))))
    wanted = sorted({int(i) for i in ids})
    out: list[CandidateRecord] = []
    for lo in range(0, len(wanted), 500):
        out += session.scalars(q.where(CandidateRecord.id.in_(wanted[lo:lo + 500])))
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out
