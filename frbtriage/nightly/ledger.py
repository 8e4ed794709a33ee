"""Which data files the nightly job has finished, recorded in the workspace database.

A data file is *new* when the SHA-256 of its content is not in the ``data_files`` table
(:class:`frbtriage.db.DataFileRecord`), so a file that is renamed, moved or copied into the
inbox again is not processed twice, and a file whose content changed is. ``file_stats``
caches each path's size, mtime and hash so that an unchanged file is not read again to be
hashed (as git's index does); ``nightly_runs`` keeps each run's start, end and exit status.

Crash protocol (with :meth:`frbtriage.workspace.Workspace.append`'s own):

1. a file's candidates are appended to the workspace in atomic batches;
2. only after the last batch has committed is the file's row added to ``data_files`` (one
   transaction, with its ``file_stats`` row).

A kill before step 2 leaves the file unrecorded: the next run processes it again and
``Workspace.append`` skips the candidates already stored (same file, tcand, DM, width), so
nothing is duplicated and zarr rows = database rows. Step 2 is one transaction: it lands
whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from frbtriage import db

if TYPE_CHECKING:
    from frbtriage.workspace import Workspace


@dataclass(frozen=True)
class LedgerEntry:
    """A finished data file: content ``sha256``, ``path`` when processed, ``size`` bytes,
    ``source`` of its candidates (``"search"`` or the candidate list's path), candidates
    ``found`` (listed or found by the search), ``added`` to the workspace by that run, and
    when it was ``processed`` (UTC)."""

    sha256: str
    path: str
    size: int
    source: str
    found: int
    added: int
    processed: dt.datetime


class Ledger:
    """The finished files of one workspace (see the module); open with :meth:`load`."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    @classmethod
    def load(cls, ws: Workspace) -> Ledger:
        """The ledger of workspace ``ws`` (its database tables)."""
        return cls(ws)

    # ------------------------------------------------------------------ reading
    def known(self) -> frozenset[str]:
        """Content hashes of the finished files."""
        with self.ws.session() as s:
            return frozenset(s.scalars(select(db.DataFileRecord.sha256)))

    def entries(self) -> list[LedgerEntry]:
        """The finished files, in the order they were processed."""
        with self.ws.session() as s:
            recs = s.scalars(select(db.DataFileRecord).order_by(db.DataFileRecord.processed,
                                                                db.DataFileRecord.sha256))
            return [LedgerEntry(r.sha256, r.path, int(r.size), r.source, int(r.found),
                                int(r.added), db.as_utc(r.processed)) for r in recs]

    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The content hash recorded for ``path`` when it had this ``size`` (bytes) and
        ``mtime_ns``, else None (the file must be read and hashed)."""
        with self.ws.session() as s:
            rec = s.get(db.FileStatRecord, path)
        if rec is not None and int(rec.size) == size and int(rec.mtime_ns) == mtime_ns:
            return rec.sha256
        return None

    def last_run_started(self) -> dt.datetime | None:
        """When the last run that finished began (UTC), or None."""
        with self.ws.session() as s:
            last = s.scalar(select(func.max(db.NightlyRunRecord.started)))
        return None if last is None else db.as_utc(last)

    # ------------------------------------------------------------------ writing
    def record(self, entry: LedgerEntry | None, path: str, size: int, mtime_ns: int,
               sha256: str) -> None:
        """Remember that ``path`` (``size`` bytes, ``mtime_ns``) has content ``sha256``
        and, with ``entry``, that this content is finished; one transaction."""
        with self.ws.session() as s, s.begin():
            s.merge(db.FileStatRecord(path=path, size=int(size), mtime_ns=int(mtime_ns),
                                      sha256=sha256))
            if entry is not None:
                s.merge(db.DataFileRecord(sha256=entry.sha256, path=entry.path,
                                          size=int(entry.size), source=entry.source,
                                          found=int(entry.found), added=int(entry.added),
                                          processed=entry.processed))

    def finish_run(self, started: dt.datetime, finished: dt.datetime, status: int) -> None:
        """Record a finished run (times UTC, exit ``status``)."""
        with self.ws.session() as s, s.begin():
            s.add(db.NightlyRunRecord(started=started, finished=finished, status=int(status)))
