"""Votes made elsewhere come in: a CSV of votes, or a Zooniverse classification export.

**Plain CSV** (header row; column names are case-insensitive): ``volunteer`` and ``answer``
required; ``tags`` (comma-separated), ``seconds`` (taken to answer) and ``created`` (ISO
8601 time, UTC when it has no zone; default: the time of the import) optional. The
candidate is named by ``candidate_id``, or by ``file``, ``stime`` (s) and ``dm``
(pc cm^-3), matched like the database's duplicate key (:func:`frbtriage.db.candidate_key`):
the absolute path of ``file`` (a relative one is relative to the CSV's folder, as in
your/FETCH lists), ``tcand_key(stime)`` and ``dm_key(dm)``. When several stored candidates
match (they differ in width) or none does, the row is reported, never guessed. A row that
gives both ``candidate_id`` and ``file, stime, dm`` must agree on the candidate.

**Zooniverse** (``zooniverse=True``): the project's classification export
(:mod:`frbtriage.crowd.zooniverse`): ``user_name`` becomes the volunteer
(:func:`~frbtriage.crowd.zooniverse.volunteer_name`), ``annotations`` the answer and tags,
``subject_data`` names the candidate (its ``candidate_id``, or ``file``, ``stime``, ``dm``,
as above), ``created_at`` is kept and ``metadata``'s start and finish times give the
seconds taken.

Votes are stored with ``source`` ``import:<absolute path>`` (``zooniverse:<absolute path>``).
Missing volunteers are created without a sign-in token
(:func:`frbtriage.crowd.volunteers.ensure_volunteer`).

Protocol of :func:`import_votes` (kill-safe; running the same import again adds exactly
what is missing):

1. read and parse the whole file; an unreadable file or missing required columns raise
   :class:`InputError` before anything is stored. Each row becomes a vote or a rejection
   ``(line, reason)``; answers, tags and seconds follow :func:`~frbtriage.crowd.votes.
   submit_vote`'s rules (:func:`~frbtriage.crowd.answers.parse_answer`, ``parse_tags``);
2. resolve ``file, stime, dm`` to candidate ids (read only);
3. create the missing volunteers in one transaction;
4. store the votes ``batch_size`` at a time, one transaction each: a vote whose volunteer
   and candidate already have one stored (from an earlier import, the app, or a row above
   in the same file) is counted ``already`` and the stored one is kept, whatever happened
   since (a later, cumulative Zooniverse export re-imports cleanly after its candidates
   retired); every other vote is checked as ``submit_vote`` checks one (volunteer active,
   candidate stored and not retired) and inserted with ``ON CONFLICT DO NOTHING`` on the
   unique constraint ``uq_vote``, so a vote that lands meanwhile from the app is kept too.

A kill leaves whole batches stored and nothing half-written.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from frbtriage import db
from frbtriage.crowd import zooniverse as zoo
from frbtriage.crowd.answers import (
    ANSWERS,
    parse_answer,
    parse_tags,
    parse_zooniverse_annotations,
)
from frbtriage.crowd.volunteers import ensure_volunteer
from frbtriage.crowd.votes import check_seconds, refusals
from frbtriage.errors import InputError

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.orm import Session

    from frbtriage.workspace import Workspace

__all__ = ["PLAIN_REQUIRED", "ZOONIVERSE_REQUIRED", "ImportSummary", "import_votes"]

#: Columns a plain vote CSV must have, besides ``candidate_id`` or ``file, stime, dm``.
PLAIN_REQUIRED = ("volunteer", "answer")
#: Columns a Zooniverse classification export must have.
ZOONIVERSE_REQUIRED = ("user_name", "annotations", "subject_data")
_KEY_COLUMNS = ("file", "stime", "dm")
#: Largest candidate id an integer column can hold (SQL BIGINT).
_MAX_ID = 2**63 - 1
#: Ids per ``IN (...)`` clause.
_CHUNK = 500
#: Largest |stime| (s) or |dm| (pc cm^-3) a row may give; beyond, the keys would overflow.
_MAX_VALUE = 1e12


@dataclass
class ImportSummary:
    """What :func:`import_votes` did with the ``rows`` of ``path``: votes ``added``,
    ``already`` stored (kept as they were), ``rejected`` as ``(line, reason)`` (line 1 is
    the header) in line order, and ``volunteers_created``."""

    path: str
    rows: int = 0
    added: int = 0
    already: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    volunteers_created: int = 0

    def nothing_imported(self) -> InputError | None:
        """The error for an import whose every row was rejected (None otherwise)."""
        if self.rows == 0 or self.added or self.already:
            return None
        line, reason = self.rejected[0]
        return InputError(self.path, f"none of the {self.rows} rows could be imported "
                                     f"(first: line {line}: {reason})")

    def __str__(self) -> str:
        return (f"{self.rows} rows: {self.added} votes added, {self.already} already stored, "
                f"{len(self.rejected)} rejected; {self.volunteers_created} volunteers created")


@dataclass(frozen=True)
class _Vote:
    """One parsed row: the candidate by ``candidate_id`` and/or ``key`` (absolute file,
    tcand_key, dm_key); ``answer`` canonical; ``tags`` comma-joined canonical names."""

    line: int
    volunteer: str
    candidate_id: int | None
    key: tuple[str, int, int] | None
    answer: str
    tags: str
    seconds: float | None
    created: dt.datetime


# --------------------------------------------------------------------------- reading


def _rows(path: Path, zooniverse: bool) -> Iterator[tuple[int, dict[str, str] | str]]:
    """``(line, {column: text})`` for each non-blank row (missing trailing fields are
    empty), or ``(line, problem)`` for a row with more fields than the header;
    :class:`InputError` for a file that is not a UTF-8 CSV or lacks required columns."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            _check_header(path, header, zooniverse)
            end = reader.line_num
            for row in reader:
                line, end = end + 1, reader.line_num
                if not any(f.strip() for f in row):
                    continue
                if len(row) > len(header):
                    yield line, f"{len(row)} fields where the header has {len(header)}"
                    continue
                yield line, dict(zip(header, row + [""] * (len(header) - len(row)),
                                     strict=True))
    except OSError as err:
        raise InputError(path, f"cannot read the file ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise InputError(path, f"not a UTF-8 text file ({err.reason} at byte "
                               f"{err.start})") from None
    except csv.Error as err:
        raise InputError(path, f"not a readable CSV file (line {reader.line_num}: "
                               f"{err})") from None


def _check_header(path: Path, header: list[str], zooniverse: bool) -> None:
    if not header:
        raise InputError(path, "empty file (expected a CSV header line)")
    need = list(ZOONIVERSE_REQUIRED if zooniverse else PLAIN_REQUIRED)
    if not zooniverse and "candidate_id" not in header:
        need += _KEY_COLUMNS
    missing = [c for c in need if c not in header]
    if missing:
        what = "a Zooniverse classification export" if zooniverse else "a vote CSV"
        alt = " (or candidate_id)" if set(missing) & set(_KEY_COLUMNS) else ""
        raise InputError(path, f"{what} needs column(s) {', '.join(missing)}{alt}; "
                               f"found: {', '.join(h for h in header if h) or 'none'}")


# --------------------------------------------------------------------------- parsing rows


def _number(fields: Mapping[str, str], name: str, limit: float = math.inf) -> float:
    """The finite number in column ``name``, of magnitude at most ``limit``."""
    text = fields.get(name, "").strip()
    try:
        value = float(text)
    except ValueError:
        raise InputError(None, f"{name} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(None, f"{name} {text!r} is not a finite number")
    if abs(value) > limit:
        raise InputError(None, f"{name} {text!r} is out of range")
    return value


def _candidate(fields: Mapping[str, str], base: Path
               ) -> tuple[int | None, tuple[str, int, int] | None]:
    """The candidate a row names: ``(candidate_id or None, (abs file, tcand_key, dm_key) or
    None)``, at least one given."""
    cid = None
    text = fields.get("candidate_id", "").strip()
    if text:
        try:
            cid = int(text)
        except ValueError:
            raise InputError(None, f"candidate_id {text!r} is not a whole number") from None
        if not 1 <= cid <= _MAX_ID:
            raise InputError(None, f"no candidate with id {cid}")
    key = None
    if any(fields.get(c, "").strip() for c in _KEY_COLUMNS):
        file = fields.get("file", "").strip()
        if not file or not file.isprintable():
            raise InputError(None, f"file {file!r} is not a path")
        key = (os.path.abspath(base / file), db.tcand_key(_number(fields, "stime", _MAX_VALUE)),
               db.dm_key(_number(fields, "dm", _MAX_VALUE)))
    if cid is None and key is None:
        raise InputError(None, "no candidate_id and no file, stime, dm")
    return cid, key


def _plain_vote(line: int, f: Mapping[str, str], base: Path, now: dt.datetime) -> _Vote:
    cid, key = _candidate(f, base)
    seconds = f.get("seconds", "").strip()
    created = f.get("created", "").strip()
    return _Vote(line=line, volunteer=f["volunteer"].strip(), candidate_id=cid, key=key,
                 answer=ANSWERS[parse_answer(f["answer"])],
                 tags=",".join(parse_tags(f.get("tags", ""))),
                 seconds=check_seconds(_number(f, "seconds"), None) if seconds else None,
                 created=zoo.parse_time(created) if created else now)


def _zooniverse_vote(line: int, f: Mapping[str, str], base: Path, now: dt.datetime) -> _Vote:
    code, tags = parse_zooniverse_annotations(f["annotations"])
    cid, key = _candidate(zoo.subject_metadata(f["subject_data"], f.get("subject_ids", "")),
                          base)
    created = f.get("created_at", "").strip()
    return _Vote(line=line, volunteer=zoo.volunteer_name(f["user_name"]), candidate_id=cid,
                 key=key, answer=ANSWERS[code], tags=",".join(tags),
                 seconds=zoo.classification_seconds(f.get("metadata", "")),
                 created=zoo.parse_time(created) if created else now)


# --------------------------------------------------------------------------- resolving


class _Import:
    """One run of :func:`import_votes`: the parsed votes, the summary being filled, and the
    candidates and volunteers resolved so far."""

    def __init__(self, ws: Workspace, path: Path, zooniverse: bool) -> None:
        self.ws = ws
        self.summary = ImportSummary(str(path))
        self.source = f"{'zooniverse' if zooniverse else 'import'}:{path}"
        self.votes: list[_Vote] = []
        self.volunteer_ids: dict[str, int] = {}

    def reject(self, vote: _Vote | int, reason: str) -> None:
        self.summary.rejected.append((vote if isinstance(vote, int) else vote.line, reason))

    def resolve_candidates(self) -> None:
        """Give every vote named by ``file, stime, dm`` its candidate id (or reject it);
        check the key of votes that give both."""
        files = {v.key[0] for v in self.votes if v.key is not None}
        if not files:
            return
        with self.ws.session() as s:
            stored = db.stored_ids(s, files)
        by_key: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        for (file, tk, dk, width), cid in stored.items():
            by_key.setdefault((file, tk, dk), []).append((cid, width))
        kept = []
        for v in self.votes:
            if v.key is None:
                kept.append(v)
                continue
            matches = sorted(by_key.get(v.key, []), key=lambda m: m[1])
            where = f"file, stime, dm {self._key_text(v.key)}"
            if v.candidate_id is not None:
                if v.candidate_id in {cid for cid, _ in matches}:
                    kept.append(v)
                else:
                    self.reject(v, f"candidate_id {v.candidate_id} is not the candidate at "
                                   f"{where}")
            elif len(matches) == 1:
                kept.append(dataclasses.replace(v, candidate_id=matches[0][0]))
            elif not matches:
                self.reject(v, f"no stored candidate at {where}")
            else:
                widths = ", ".join(str(w) for _, w in matches)
                self.reject(v, f"{len(matches)} stored candidates at {where} (widths "
                               f"{widths} samples); give candidate_id")
        self.votes = kept

    @staticmethod
    def _key_text(key: tuple[str, int, int]) -> str:
        return (f"{key[0]}, {key[1] / db.TCAND_KEY_SCALE:.4f} s, "
                f"{key[2] / db.DM_KEY_SCALE:.2f}")

    def resolve_volunteers(self) -> None:
        """Find or create (one transaction) the volunteers the votes name."""
        names = sorted({v.volunteer for v in self.votes})
        bad: dict[str, str] = {}
        with self.ws.session() as s, s.begin():
            for lo in range(0, len(names), _CHUNK):
                q = select(db.VolunteerRecord.name, db.VolunteerRecord.id).where(
                    db.VolunteerRecord.name.in_(names[lo:lo + _CHUNK]))
                self.volunteer_ids.update({name: int(i) for name, i in s.execute(q)})
            for name in names:
                if name in self.volunteer_ids:
                    continue
                try:
                    rec, created = ensure_volunteer(s, name)
                except InputError as err:
                    bad[name] = err.problem
                    continue
                self.volunteer_ids[name] = rec.id
                self.summary.volunteers_created += int(created)
        for v in self.votes:
            if v.volunteer in bad:
                self.reject(v, bad[v.volunteer])
        self.votes = [v for v in self.votes if v.volunteer not in bad]

    # ----------------------------------------------------------------------- storing
    def store(self, batch_size: int) -> None:
        """Store the votes, ``batch_size`` per transaction (step 4 of the protocol)."""
        seen: set[tuple[int, int]] = set()
        for lo in range(0, len(self.votes), batch_size):
            batch = self.votes[lo:lo + batch_size]
            with self.ws.session() as s, s.begin():
                rows = self._new_rows(s, batch, seen)
                added = _insert_new(s, rows)
            self.summary.added += added
            self.summary.already += len(rows) - added

    def _new_rows(self, s: Session, batch: list[_Vote],
                  seen: set[tuple[int, int]]) -> list[dict[str, object]]:
        """The rows of ``batch`` to insert; counts the ones already stored, rejects refused
        ones; adds the pairs stored or to be inserted to ``seen``."""
        pairs = [(self.volunteer_ids[v.volunteer], int(v.candidate_id)) for v in batch]
        cids = sorted({c for _, c in pairs})
        stored = _stored_pairs(s, cids)
        refused = refusals(s, pairs)
        rows = []
        for v, pair in zip(batch, pairs, strict=True):
            if pair in seen or pair in stored:
                self.summary.already += 1
            elif pair in refused:
                self.reject(v, f"vote refused: {refused[pair]}")
                continue
            else:
                rows.append({"candidate_id": pair[1], "volunteer_id": pair[0],
                             "answer": v.answer, "tags": v.tags, "seconds": v.seconds,
                             "model_version": None, "source": self.source,
                             "created": v.created})
            seen.add(pair)
        return rows


def _stored_pairs(s: Session, cids: list[int]) -> set[tuple[int, int]]:
    """``(volunteer_id, candidate_id)`` of the votes stored on ``cids``."""
    out: set[tuple[int, int]] = set()
    for lo in range(0, len(cids), _CHUNK):
        q = select(db.VoteRecord.volunteer_id, db.VoteRecord.candidate_id).where(
            db.VoteRecord.candidate_id.in_(cids[lo:lo + _CHUNK]))
        out.update((int(v), int(c)) for v, c in s.execute(q))
    return out


def _insert_new(s: Session, rows: list[dict[str, object]]) -> int:
    """Insert vote ``rows``, leaving out any whose (candidate, volunteer) pair is stored by
    now (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL; elsewhere the pairs were
    checked in this transaction); returns the number inserted."""
    if not rows:
        return 0
    table = db.VoteRecord.__table__
    name = s.get_bind().dialect.name
    if name not in ("sqlite", "postgresql"):
        s.execute(table.insert(), rows)
        return len(rows)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(table).on_conflict_do_nothing(
        index_elements=["candidate_id", "volunteer_id"]).returning(table.c.id)
    return len(s.execute(stmt, rows).all())


# --------------------------------------------------------------------------- the API


def import_votes(ws: Workspace, path: str | os.PathLike[str], *, zooniverse: bool = False,
                 batch_size: int = 5000) -> ImportSummary:
    """Store the votes of a vote CSV or (``zooniverse``) a Zooniverse classification export
    (formats and protocol: module docstring); returns an :class:`ImportSummary`.

    Bad rows are rejected with their line numbers while the good ones are stored.
    :class:`InputError` for an unreadable file or missing required columns (nothing stored).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    p = Path(os.path.abspath(path))
    run = _Import(ws, p, zooniverse)
    parse = _zooniverse_vote if zooniverse else _plain_vote
    now = db.utcnow()
    for line, fields in _rows(p, zooniverse):
        run.summary.rows += 1
        if isinstance(fields, str):
            run.reject(line, fields)
            continue
        try:
            run.votes.append(parse(line, fields, p.parent, now))
        except InputError as err:
            run.reject(line, err.problem)
    run.resolve_candidates()
    run.resolve_volunteers()
    run.store(batch_size)
    run.summary.rejected.sort()
    return run.summary
