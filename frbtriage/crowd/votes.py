"""Votes: storing one volunteer's answer about one candidate, exactly once.

Protocol of :func:`submit_vote` (safe for any number of concurrent callers, threads or
processes, on SQLite and PostgreSQL):

1. parse the answer and tags (:mod:`frbtriage.crowd.answers`); a bad one is refused before
   the database is touched;
2. in one transaction: check that the volunteer exists and is active and that the
   candidate exists and is not retired, then insert the vote and commit;
3. if the insert hits the unique constraint ``uq_vote`` (a double click, a retry after a
   time-out, two tabs), nothing new is stored: the transaction is rolled back and the vote
   already stored is returned with ``stored=False``.

A vote is stored when :func:`submit_vote` returns; a kill before the commit stores nothing,
a kill after leaves the whole vote. Refusals raise :class:`frbtriage.errors.InputError` with
one line saying why; nothing is stored then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frbtriage import db
from frbtriage.crowd.answers import ANSWERS, parse_answer, parse_tags
from frbtriage.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from frbtriage.workspace import Workspace


#: Ids per ``IN (...)`` query.
_CHUNK = 500


@dataclass(frozen=True)
class Vote:
    """A stored vote as plain values; ``answer`` is one of
    :data:`frbtriage.crowd.answers.ANSWERS`, ``tags`` canonical tag names."""

    id: int
    candidate_id: int
    volunteer_id: int
    answer: str
    tags: tuple[str, ...]
    seconds: float | None
    model_version: str | None
    source: str
    created: dt.datetime

    @classmethod
    def of(cls, rec: db.VoteRecord) -> Vote:
        """The plain values of a database record."""
        return cls(rec.id, rec.candidate_id, rec.volunteer_id, rec.answer,
                   tuple(t for t in rec.tags.split(",") if t), rec.seconds, rec.model_version,
                   rec.source, db.as_utc(rec.created))


@dataclass(frozen=True)
class Receipt:
    """What :func:`submit_vote` did: the stored ``vote``; ``stored`` False when this
    volunteer had already voted on the candidate (the earlier vote is kept and returned);
    ``known`` the science team's label of the candidate (1 astrophysical, 0 not) when it is
    a gold candidate, for feedback *after* the answer, else None."""

    vote: Vote
    stored: bool
    known: int | None


def check_seconds(seconds: float | None, where: str | None) -> float | None:
    """``seconds`` taken to answer as a float (None stays None); :class:`InputError` unless
    it is finite and >= 0."""
    if seconds is None:
        return None
    s = float(seconds)
    if not 0.0 <= s < 1e7:
        raise InputError(where, f"seconds taken must be >= 0 and finite, got {seconds!r}")
    return s


def refusals(s: Session, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Why each refused ``(volunteer_id, candidate_id)`` vote must be refused (pairs not in
    the result may be stored): the volunteer exists and is active, the candidate exists and
    is not retired. Many votes in a few queries (chunks of 500 ids)."""
    vids = sorted({v for v, _ in pairs})
    cids = sorted({c for _, c in pairs})
    people: dict[int, tuple[str, bool]] = {}
    known: set[int] = set()
    retired: set[int] = set()
    for lo in range(0, len(vids), _CHUNK):
        q = select(db.VolunteerRecord.id, db.VolunteerRecord.name, db.VolunteerRecord.active
                   ).where(db.VolunteerRecord.id.in_(vids[lo:lo + _CHUNK]))
        people.update({i: (name, bool(active)) for i, name, active in s.execute(q)})
    for lo in range(0, len(cids), _CHUNK):
        part = cids[lo:lo + _CHUNK]
        known.update(s.scalars(select(db.CandidateRecord.id).where(
            db.CandidateRecord.id.in_(part))))
        retired.update(s.scalars(select(db.QueueRecord.candidate_id).where(
            db.QueueRecord.candidate_id.in_(part), db.QueueRecord.retired.is_(True))))
    out = {}
    for vid, cid in pairs:
        if vid not in people:
            out[vid, cid] = f"no volunteer with id {vid}"
        elif not people[vid][1]:
            out[vid, cid] = f"volunteer {people[vid][0]!r} is disabled"
        elif cid not in known:
            out[vid, cid] = f"no candidate with id {cid}"
        elif cid in retired:
            out[vid, cid] = f"candidate {cid} is retired (its label is settled)"
    return out


def stored_vote(s: Session, volunteer_id: int, candidate_id: int) -> db.VoteRecord | None:
    """The vote of ``volunteer_id`` on ``candidate_id`` in session ``s``, or None."""
    return s.scalars(select(db.VoteRecord).where(
        db.VoteRecord.volunteer_id == int(volunteer_id),
        db.VoteRecord.candidate_id == int(candidate_id))).first()


def _known(s: Session, candidate_id: int) -> int | None:
    cand = s.get(db.CandidateRecord, int(candidate_id))
    return None if cand is None else cand.label


def submit_vote(ws: Workspace, volunteer_id: int, candidate_id: int, answer: str,
                tags: str | Iterable[str] = (), seconds: float | None = None,
                model_version: str | None = None, source: str = "app") -> Receipt:
    """Store a vote once (see the module's protocol); returns a :class:`Receipt`.

    ``answer`` any spelling :func:`frbtriage.crowd.answers.parse_answer` reads; ``tags``
    names or one comma-separated string; ``seconds`` taken to answer; ``model_version``
    whose score was shown. :class:`InputError` for an unknown answer or tag, an unknown,
    disabled volunteer, an unknown or retired candidate.
    """
    where = f"vote on candidate {candidate_id}"
    code = parse_answer(answer, where)
    tag_text = ",".join(parse_tags(tags, where))
    secs = check_seconds(seconds, where)
    try:
        with ws.session() as s, s.begin():
            problem = refusals(s, [(int(volunteer_id), int(candidate_id))]).get(
                (int(volunteer_id), int(candidate_id)))
            if problem:
                raise InputError(None, f"vote refused: {problem}")
            rec = db.VoteRecord(candidate_id=int(candidate_id), volunteer_id=int(volunteer_id),
                                answer=ANSWERS[code], tags=tag_text, seconds=secs,
                                model_version=model_version, source=source,
                                created=db.utcnow())
            s.add(rec)
            s.flush()
            known = _known(s, candidate_id)
        return Receipt(Vote.of(rec), True, known)
    except IntegrityError:
        with ws.session() as s:
            rec = stored_vote(s, volunteer_id, candidate_id)
            if rec is None:  # not the duplicate: a candidate or volunteer vanished meanwhile
                raise
            return Receipt(Vote.of(rec), False, _known(s, candidate_id))


def votes_of(ws: Workspace, *, volunteer_id: int | None = None,
             candidate_ids: Iterable[int] | None = None) -> list[Vote]:
    """Stored votes (all, one volunteer's, or on ``candidate_ids``), ordered by id."""
    q = select(db.VoteRecord).order_by(db.VoteRecord.id)
    if volunteer_id is not None:
        q = q.where(db.VoteRecord.volunteer_id == int(volunteer_id))
    with ws.session() as s:
        if candidate_ids is None:
            return [Vote.of(r) for r in s.scalars(q)]
        ids = sorted({int(i) for i in candidate_ids})
        out: list[Vote] = []
        for lo in range(0, len(ids), 500):
            out += [Vote.of(r) for r in
                    s.scalars(q.where(db.VoteRecord.candidate_id.in_(ids[lo:lo + 500])))]
        return sorted(out, key=lambda v: v.id)
