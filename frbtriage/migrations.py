"""Numbered upgrade steps of the workspace database, from each schema version to the next.

A workspace made by an older frbtriage records its schema version in the ``meta`` table
(version 1 had no version-specific marker beyond ``schema_version = 1``). When such a
database is opened, :func:`upgrade` runs the steps ``STEPS[v + 1] .. STEPS[SCHEMA_VERSION]``
with alembic's operations (``op.create_table``, ``op.batch_alter_table`` which rebuilds a
SQLite table where ``ALTER TABLE`` cannot), all in **one transaction**: a failure or a kill
part-way leaves the database exactly as it was (SQLite and PostgreSQL both roll DDL back).
Before a SQLite file is changed, a copy is kept beside it as ``<name>.v<old>.bak``.

Writing a step: add a function ``_vN(op, conn)`` that takes the database from version
``N - 1`` to ``N`` using only ``op`` (alembic ``Operations``) and ``conn`` (for data
moves), register it in :data:`STEPS`, bump :data:`frbtriage.db.SCHEMA_VERSION`, and declare
the same tables/columns on the ORM classes; ``tests/test_migrations.py`` checks that the
upgraded schema equals the declared one.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, SQLAlchemyError

from frbtriage.errors import InputError

log = logging.getLogger(__name__)


def _v2(op, conn: Connection) -> None:  # noqa: ANN001 - alembic Operations
    """Version 2: labels with provenance. The ``candidates.label`` column (which mixed
    simulation truth and imported lists) becomes ``labels`` rows with source ``list``
    (the origin of the candidate as ``ref``), and the column is dropped."""
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("candidate_id", sa.Integer,
                  sa.ForeignKey("candidates.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("ref", sa.String(1024), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("candidate_id", "source", name="uq_label_source"),
    )
    op.create_index("ix_labels_source", "labels", ["source"])
    conn.execute(sa.text(
        "INSERT INTO labels (candidate_id, source, value, weight, ref, created) "
        "SELECT id, 'list', label, 1.0, origin, created FROM candidates "
        "WHERE label IS NOT NULL"))
    op.drop_index("ix_candidates_label", table_name="candidates")
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("label")


def _v3(op, conn: Connection) -> None:  # noqa: ANN001, ARG001 - alembic Operations
    """Version 3: the crowd. Tables ``volunteers``, ``votes`` (one per volunteer and
    candidate), ``queue`` and ``assignments``; ``models.training`` (what a model was
    trained on, JSON); ``candidates.tcand_key`` 64-bit (tcand in 0.1 ms units passes 2^31
    after 59.65 h of recording)."""
    now = sa.DateTime(timezone=True)
    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("token_salt", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created", now, nullable=False),
    )
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("candidate_id", sa.Integer,
                  sa.ForeignKey("candidates.id", ondelete="CASCADE"), nullable=False),
        sa.Column("volunteer_id", sa.Integer,
                  sa.ForeignKey("volunteers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("answer", sa.String(16), nullable=False),
        sa.Column("tags", sa.String(256), nullable=False),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("created", now, nullable=False),
        sa.UniqueConstraint("candidate_id", "volunteer_id", name="uq_vote"),
    )
    op.create_index("ix_votes_volunteer", "votes", ["volunteer_id"])
    op.create_table(
        "queue",
        sa.Column("candidate_id", sa.Integer,
                  sa.ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("created", now, nullable=False),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("retired_at", now, nullable=True),
    )
    op.create_index("ix_queue_open", "queue", ["retired", "priority"])
    op.create_table(
        "assignments",
        sa.Column("volunteer_id", sa.Integer,
                  sa.ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("candidate_id", sa.Integer,
                  sa.ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("served", now, nullable=False),
    )
    op.add_column("models", sa.Column("training", sa.Text, nullable=False,
                                      server_default="{}"))
    with op.batch_alter_table("candidates") as batch:  # 32-bit on PostgreSQL overflowed
        batch.alter_column("tcand_key", type_=sa.BigInteger, existing_type=sa.Integer,
                           existing_nullable=False)


def _v4(op, conn: Connection) -> None:  # noqa: ANN001, ARG001 - alembic Operations
    """Version 4: the nightly job's records: ``data_files`` (finished files by content hash),
    ``file_stats`` (a path's size/mtime/hash cache) and ``nightly_runs``."""
    when = sa.DateTime(timezone=True)
    op.create_table(
        "data_files",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("found", sa.Integer, nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("processed", when, nullable=False),
    )
    op.create_table(
        "file_stats",
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "nightly_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started", when, nullable=False),
        sa.Column("finished", when, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
    )


def _v5(op, conn: Connection) -> None:  # noqa: ANN001, ARG001 - alembic Operations
    """Version 5: ``candidates.dmt_available`` (False for candidates that come without a
    DM-time image, such as CHIME catalogue waterfalls; every earlier candidate has one)."""
    op.add_column("candidates", sa.Column("dmt_available", sa.Boolean, nullable=False,
                                          server_default=sa.true()))


def _v6(op, conn: Connection) -> None:  # noqa: ANN001, ARG001 - alembic Operations
    """Version 6: the ``ft`` image's axes on each candidate (``f_hi_mhz``, ``f_lo_mhz``,
    ``pixel_s``), so its physics can be checked without the data file, and the dispersion
    index measured when it was stored (``dispersion_index``, ``dispersion_err``,
    ``dispersion_delay_s``;
    :mod:`frbtriage.dispersion`); NULL for candidates stored before."""
    for name in ("f_hi_mhz", "f_lo_mhz", "pixel_s", "dispersion_index", "dispersion_err",
                 "dispersion_delay_s"):
        op.add_column("candidates", sa.Column(name, sa.Float, nullable=True))


#: ``STEPS[n]`` takes a database from schema version ``n - 1`` to ``n``.
STEPS: dict[int, Callable[..., None]] = {2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6}


def _backup_sqlite(engine: Engine, version: int) -> Path | None:
    """Copy a SQLite database file to ``<file>.v<version>.bak`` (once); None otherwise."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    src = Path(engine.url.database)
    if not src.is_file():
        return None
    dst = src.with_name(f"{src.name}.v{version}.bak")
    if not dst.exists():  # sqlite's online backup: consistent even with a write-ahead log
        with contextlib.closing(sqlite3.connect(src)) as a, \
                contextlib.closing(sqlite3.connect(dst)) as b:
            a.backup(b)
    return dst


def upgrade(engine: Engine, version: int, where: str | None = None) -> int:
    """Upgrade a workspace database from schema ``version`` to
    :data:`frbtriage.db.SCHEMA_VERSION` in one transaction; returns the new version.

    Raises :class:`InputError` naming ``where`` if a step fails (nothing is changed then).
    """
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from frbtriage import db
    from frbtriage.db import SCHEMA_VERSION

    where = where or db.safe_url(str(engine.url))
    if version >= SCHEMA_VERSION:
        return version
    backup = _backup_sqlite(engine, version)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if sqlite:  # a table rebuild must not cascade deletes to rows that refer to it
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    if sqlite:  # pysqlite would run DDL outside a transaction: open one
                        conn.exec_driver_sql("BEGIN")
                    op = Operations(MigrationContext.configure(conn))
                    for step in range(version + 1, SCHEMA_VERSION + 1):
                        STEPS[step](op, conn)
                    conn.execute(sa.text("UPDATE meta SET value = :v WHERE key = "
                                         "'schema_version'"), {"v": str(SCHEMA_VERSION)})
                    if sqlite:
                        bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if bad:
                            raise ValueError(f"foreign keys broken by the upgrade: {bad[:3]}")
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
    except (DatabaseError, SQLAlchemyError, ValueError) as err:
        raise InputError(where, f"could not upgrade the database from schema version {version} "
                                f"to {SCHEMA_VERSION} ({err}); it was left unchanged") from err
    log.info("%s: upgraded the database schema %d -> %d%s", where, version, SCHEMA_VERSION,
             f" (copy of the old one: {backup})" if backup else "")
    return SCHEMA_VERSION
