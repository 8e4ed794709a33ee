"""The volunteer queue: which candidates people should look at, and who sees what next.

Acquisition (:func:`fill_queue`) ranks the candidates that are not queued yet by how much a
label would teach the live model (the current model of the workspace's registry):

* ``bald``: the ensemble's mutual information between prediction and members (BALD,
  Houlsby et al. 2011), stored with every score;
* ``entropy``: the binary entropy of the calibrated ``p_astro``;
* ``margin``: closeness of ``p_astro`` to 0.5 (``1 - 2 |p - 0.5|``);
* ``random``: a uniform draw.

Whatever the strategy (but ``random``), a candidate the model calls a burst
(``p_astro > VETO_CAP``) whose sweep was measured and is not cold plasma's
(:func:`frbtriage.dispersion.cold_plasma` False) is queued first, with reason
``dispersion``: the network and a check it cannot fake disagree, and the ensemble's spread
is near zero exactly there (perytons, ``benchmarks/bench_families.py``), so no acquisition
score would send it to people.

A fraction of the queue (``gold_fraction``) is gold candidates (a known label from an expert,
a simulation or a list: they measure each volunteer) and another (``random_fraction``) of the
new entries uniformly drawn ones, so the labelled set stays usable for an unbiased
evaluation. Gold entries never retire (:mod:`frbtriage.crowd.consensus`), so a fill adds only
the gold that the open queue lacks; adding a share of every fill instead would let gold pile
up until it filled the queue. Gold and random entries get priorities drawn from the acquired
ones', so they are interleaved with them, and nothing a volunteer is shown says which
entries are gold.

Serving (:func:`next_candidate`) gives a volunteer the oldest candidate already served to
them and not yet voted on (a reload or a lost answer never skips one), else the open entry of
highest priority they have neither been served nor voted on. Each serving inserts an
``assignments`` row whose primary key is (volunteer, candidate), so concurrent requests can
never serve one volunteer the same candidate twice; two volunteers may well get the same
one, as each candidate needs several votes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from frbtriage import db
from frbtriage.errors import InputError

if TYPE_CHECKING:
    from frbtriage.workspace import Workspace

STRATEGIES = ("bald", "entropy", "margin", "random")


@dataclass(frozen=True)
class QueueConfig:
    """How :func:`fill_queue` fills: up to ``size`` open entries; ``strategy`` one of
    :data:`STRATEGIES`; ``gold_fraction`` of the open entries gold and ``random_fraction`` of
    the new entries uniformly drawn (each in [0, 1], together <= 1); ``seed`` for the draws."""

    size: int = 500
    strategy: str = "bald"
    gold_fraction: float = 0.1
    random_fraction: float = 0.1
    seed: int = 0

    def check(self) -> None:
        """Raise :class:`InputError` for an impossible setting."""
        if self.size < 1:
            raise InputError(None, f"queue size must be >= 1, got {self.size}")
        if self.strategy not in STRATEGIES:
            raise InputError(None, f"strategy must be one of {', '.join(STRATEGIES)}, "
                                   f"got {self.strategy!r}")
        fr = (self.gold_fraction, self.random_fraction)
        if not all(0.0 <= f <= 1.0 for f in fr) or sum(fr) > 1.0:
            raise InputError(None, "gold and random fractions must lie in [0, 1] and add up "
                                   f"to at most 1, got {fr}")


@dataclass(frozen=True)
class FillSummary:
    """What :func:`fill_queue` did: entries ``added`` by reason, ``open`` entries after, and
    the ``model_version`` whose scores were used."""

    added: dict[str, int]
    open: int
    model_version: str

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in self.added.items() if n) or "nothing"
        return (f"queue: added {parts}; {self.open} open entries "
                f"(scores of model {self.model_version})")


def acquisition(strategy: str, p_astro: np.ndarray, bald: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Acquisition score ``(n,)`` (higher = more useful to label) of candidates with
    calibrated ``p_astro`` ``(n,)`` and ``bald`` ``(n,)`` (nats)."""
    p = np.clip(np.asarray(p_astro, dtype=np.float64), 1e-12, 1 - 1e-12)
    if strategy == "bald":
        return np.asarray(bald, dtype=np.float64)
    if strategy == "entropy":
        return -(p * np.log(p) + (1 - p) * np.log1p(-p))
    if strategy == "margin":
        return 1.0 - 2.0 * np.abs(p - 0.5)
    if strategy == "random":
        return rng.random(p.shape)
    raise ValueError(f"unknown strategy {strategy!r}")


def live_model(ws: Workspace) -> str:
    """The version of the workspace's current model; :class:`InputError` if none."""
    with ws.session() as s:
        rec = db.current_model(s)
    if rec is None:
        raise InputError(ws.path, "the workspace has no current model; score it first "
                                  "(frbtriage score) or promote one (frbtriage models promote)")
    return rec.version


def open_count(ws: Workspace) -> int:
    """Number of queue entries not retired."""
    with ws.session() as s:
        return int(s.scalar(select(func.count()).select_from(db.QueueRecord).where(
            db.QueueRecord.retired.is_(False))) or 0)


def fill_queue(ws: Workspace, config: QueueConfig = QueueConfig(),
               model_version: str | None = None) -> FillSummary:
    """Top the queue up to ``config.size`` open entries from ``model_version``'s scores
    (default: the live model); open entries already queued get their priority refreshed.

    Only candidates scored by that model are considered, and only those with a real DM-time
    image (the model's score of a placeholder means nothing); retired or queued ones are
    never added twice. Returns a :class:`FillSummary`.
    """
    from frbtriage.dispersion import VETO_CAP, cold_plasma  # numba: not for `queue --help`

    config.check()
    version = model_version or live_model(ws)
    rng = np.random.default_rng(config.seed)
    with ws.session() as s:
        rows = s.execute(
            select(db.ScoreRecord.candidate_id, db.ScoreRecord.p_astro, db.ScoreRecord.bald,
                   db.CandidateRecord.dispersion_index, db.CandidateRecord.dispersion_err,
                   db.CandidateRecord.dispersion_delay_s)
            .join(db.CandidateRecord, db.CandidateRecord.id == db.ScoreRecord.candidate_id)
            .where(db.ScoreRecord.model_version == version,
                   db.CandidateRecord.dmt_available.is_(True))
            .order_by(db.ScoreRecord.candidate_id)).all()
        queued = {cid: bool(r) for cid, r in s.execute(
            select(db.QueueRecord.candidate_id, db.QueueRecord.retired))}
        open_reason = dict(s.execute(select(db.QueueRecord.candidate_id, db.QueueRecord.reason)
                                     .where(db.QueueRecord.retired.is_(False))).all())
        gold_ids = set(s.scalars(select(db.LabelRecord.candidate_id).where(
            db.LabelRecord.source.in_(db.TRUTH_SOURCES))))
    if not rows:
        raise InputError(ws.path, f"no candidate is scored by model {version}; run "
                                  "frbtriage score first")
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    score = acquisition(config.strategy, np.asarray([r[1] for r in rows]),
                        np.asarray([r[2] for r in rows]), rng)
    physics = np.asarray([config.strategy != "random" and r[1] > VETO_CAP
                          and cold_plasma(r[3], r[4], r[5]) is False for r in rows], dtype=bool)
    if physics.any():  # above every acquisition score, in their own order
        score = np.where(physics, score + (score.max() - score.min() + 1.0), score)
    reason_of = np.where(physics, "dispersion", config.strategy)
    n_open = sum(1 for retired in queued.values() if not retired)
    n_open_gold = sum(1 for cid, retired in queued.items() if not retired and cid in gold_ids)
    free = max(config.size - n_open, 0)
    fresh = np.asarray([i not in queued for i in ids.tolist()], dtype=bool)
    is_gold = np.asarray([i in gold_ids for i in ids.tolist()], dtype=bool)
    n_gold = min(max(int(round(config.size * config.gold_fraction)) - n_open_gold, 0), free,
                 int((fresh & is_gold).sum()))
    n_rand = int(round(free * config.random_fraction))
    drawn: dict[int, str] = {}
    _draw(rng, ids, np.flatnonzero(fresh & is_gold), n_gold, "gold", drawn)
    _draw(rng, ids, np.flatnonzero(fresh & ~is_gold), n_rand, "random", drawn)
    by_score = np.flatnonzero(fresh & ~is_gold)[np.argsort(-score[fresh & ~is_gold],
                                                           kind="stable")]
    picks: dict[int, tuple[float, str]] = {}
    for j in by_score:
        if len(picks) + len(drawn) >= free:
            break
        if int(ids[j]) not in drawn:
            picks[int(ids[j])] = (float(score[j]), str(reason_of[j]))
    # Open acquired entries get the new scores. Gold and random entries, new and open, get
    # priorities drawn from the acquired ones' (new and open; every candidate's when there
    # are none), at every fill: drawn from the whole pool's (with BALD mostly near 0) they
    # would rank below everything acquired and never be served; kept from an old fill while
    # the acquired scores fall, they would rank above it all and be served first.
    refresh = {int(i): float(x) for i, x, f in zip(ids, score, fresh, strict=True)
               if not f and open_reason.get(int(i)) in (config.strategy, "dispersion")}
    acquired = ([pr for pr, why in picks.values() if why == config.strategy]
                + [pr for cid, pr in refresh.items() if open_reason[cid] == config.strategy])
    ranks = np.asarray(acquired) if acquired else score
    for cid, reason in drawn.items():
        picks[cid] = (float(rng.choice(ranks)), reason)
    refresh.update({cid: float(rng.choice(ranks)) for cid, reason in open_reason.items()
                    if reason in ("gold", "random") and reason != config.strategy})
    now = db.utcnow()
    with ws.session() as s, s.begin():
        s.add_all(db.QueueRecord(candidate_id=cid, priority=pr, reason=reason,
                                 model_version=version, created=now, retired=False)
                  for cid, (pr, reason) in picks.items())
        for cid, pr in refresh.items():
            s.execute(update(db.QueueRecord).where(db.QueueRecord.candidate_id == cid)
                      .values(priority=pr, model_version=version))
    added = {r: sum(1 for _, why in picks.values() if why == r)
             for r in (config.strategy, "dispersion", "gold", "random")}
    return FillSummary(added=added, open=n_open + len(picks), model_version=version)


def _draw(rng: np.random.Generator, ids: np.ndarray, pool: np.ndarray, n: int,
          reason: str, drawn: dict[int, str]) -> None:
    """Add ``n`` candidates drawn uniformly from positions ``pool`` of ``ids`` (not yet in
    ``drawn``) to ``drawn`` with ``reason``."""
    pool = np.asarray([j for j in pool if int(ids[j]) not in drawn], dtype=np.int64)
    for j in rng.choice(pool, size=min(n, len(pool)), replace=False) if n else ():
        drawn[int(ids[j])] = reason


def not_retired(candidate_col):  # noqa: ANN001, ANN201 - SQL expressions
    """SQL condition: the candidate in ``candidate_col`` has no retired queue entry."""
    return ~exists().where(db.QueueRecord.candidate_id == candidate_col,
                           db.QueueRecord.retired.is_(True))


def outstanding(volunteer_id: int, exclude: Sequence[int] = ()):  # noqa: ANN201 - a select
    """Select the candidates served to ``volunteer_id`` that are not retired, they have not
    voted on, and are not in ``exclude``, oldest first."""
    voted = exists().where(db.VoteRecord.volunteer_id == volunteer_id,
                           db.VoteRecord.candidate_id == db.AssignmentRecord.candidate_id)
    return (select(db.AssignmentRecord.candidate_id)
            .where(db.AssignmentRecord.volunteer_id == volunteer_id, ~voted,
                   not_retired(db.AssignmentRecord.candidate_id),
                   db.AssignmentRecord.candidate_id.not_in([int(i) for i in exclude]))
            .order_by(db.AssignmentRecord.served, db.AssignmentRecord.candidate_id))


def claim(ws: Workspace, volunteer_id: int, options: Iterable[int]) -> int | None:
    """Serve ``volunteer_id`` the first of ``options`` not yet served to them: insert its
    assignment (the primary key refuses a second one made meanwhile by a concurrent request,
    and the next option is tried). Returns the candidate id, or None if every option was
    taken."""
    for cid in options:
        try:
            with ws.session() as s, s.begin():
                s.add(db.AssignmentRecord(volunteer_id=int(volunteer_id), candidate_id=int(cid),
                                          served=db.utcnow()))
            return int(cid)
        except IntegrityError:  # this volunteer got it in another request meanwhile
            continue
    return None


def _unseen(volunteer_id: int, limit: int):  # noqa: ANN202 - a select
    """Open queue entries ``volunteer_id`` was neither served nor voted on, best first."""
    served = exists().where(db.AssignmentRecord.volunteer_id == volunteer_id,
                            db.AssignmentRecord.candidate_id == db.QueueRecord.candidate_id)
    voted = exists().where(db.VoteRecord.volunteer_id == volunteer_id,
                           db.VoteRecord.candidate_id == db.QueueRecord.candidate_id)
    return (select(db.QueueRecord.candidate_id)
            .where(and_(db.QueueRecord.retired.is_(False), ~served, ~voted))
            .order_by(db.QueueRecord.priority.desc(), db.QueueRecord.candidate_id)
            .limit(limit))


def next_candidate(ws: Workspace, volunteer_id: int, *, peek: int = 16) -> int | None:
    """The candidate id to show volunteer ``volunteer_id`` next (see the module's rules), or
    None when the queue holds nothing new for them. Safe under concurrent callers."""
    volunteer_id = int(volunteer_id)
    with ws.session() as s:
        pending = s.scalars(outstanding(volunteer_id).limit(1)).first()
    if pending is not None:
        return int(pending)
    while True:
        with ws.session() as s:
            options = list(s.scalars(_unseen(volunteer_id, peek)))
        if not options:
            return None
        got = claim(ws, volunteer_id, options)
        if got is not None:
            return got


def retire(ws: Workspace, candidate_ids: list[int]) -> list[int]:
    """Mark the open queue entries of ``candidate_ids`` retired (one transaction); returns
    the ids that were open and are now retired."""
    ids = sorted({int(i) for i in candidate_ids})
    done: list[int] = []
    with ws.session() as s, s.begin():
        for lo in range(0, len(ids), 500):
            part = [db.QueueRecord.candidate_id.in_(ids[lo:lo + 500]),
                    db.QueueRecord.retired.is_(False)]
            now_open = list(s.scalars(select(db.QueueRecord.candidate_id).where(*part)))
            s.execute(update(db.QueueRecord).where(*part).values(retired=True,
                                                                 retired_at=db.utcnow()))
            done += now_open
    return sorted(done)
