"""What the review app shows and does, as plain functions (the Streamlit pages only draw).

Three audiences, three groups of functions:

* **Volunteers** (:func:`next_for`, :func:`cast_vote`, :func:`progress`, :func:`describe`,
  :func:`field_guide`, :class:`PictureCache`). Levels as in Gravity Spy: a new volunteer
  (level 1) is served gold candidates (a known label, so each answer can be scored and
  explained) and candidates the live model is sure about; once they have answered at least
  ``min_gold`` gold candidates with an accuracy of at least ``promote_accuracy`` they reach
  level 2 and are served the volunteer queue, whose head is what the model is least sure
  of. The thresholds are the ``[crowd.levels]`` table of the workspace's ``frbtriage.toml``
  (:func:`level_rule`).
* **Researchers** (:func:`candidate_rows`, :func:`candidate_detail`, :func:`set_expert_label`,
  :func:`selection_csv`, :func:`selection_h5_zip`).
* **Everyone who looks at the project's health** (:func:`dashboard`).

Serving protocol (:func:`next_for`): first the oldest candidate already served to the
volunteer and not answered (an ``assignments`` row without a vote, its queue entry not
retired), so a reload or a lost answer never skips one; else a fresh candidate for their
level, recorded by inserting an ``assignments`` row whose primary key (volunteer, candidate)
makes concurrent requests of one volunteer never get the same candidate twice. ``exclude``
lets the page serve the candidate *after* the one on screen ahead of time (its picture is
rendered while the volunteer looks at the current one); it stays served, so it is the one
shown next.

Permissions are checked here, on the server, for every action: :func:`require` reads the
person's record again (so a disabled account or a changed role takes effect at once) and
raises :class:`PermissionError` when their role is not enough.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import tempfile
import threading
import tomllib
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import and_, exists, func, or_, select

from frbtriage import db
from frbtriage.crowd.answers import ANSWERS, ASTRO, CANT_TELL, RFI, TAGS
from frbtriage.crowd.volunteers import Volunteer, get_volunteer
from frbtriage.crowd.votes import Receipt, submit_vote
from frbtriage.dispersion import DispersionCheck, check_candidate
from frbtriage.errors import InputError
from frbtriage.queue import claim, not_retired, outstanding

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from frbtriage.model.registry import ModelInfo
    from frbtriage.workspace import Workspace

#: Words for each answer, as the app's buttons and feedback say them.
ANSWER_WORDS = {"astro": "Astrophysical burst", "rfi": "RFI / noise", "cant_tell": "Can't tell"}
#: Words for a known class (1 astrophysical, 0 not), for feedback after a gold candidate.
CLASS_WORDS = {1: "an astrophysical burst", 0: "RFI or noise"}
#: CHIME's sampling time (s): what a width in samples means in milliseconds when the
#: candidate's data file is not at hand.
CHIME_TSAMP = 0.98304e-3


# --------------------------------------------------------------------------- permissions


def require(ws: Workspace, volunteer_id: int | None, role: str = "volunteer") -> Volunteer:
    """The signed-in person ``volunteer_id``, read again from the database, after checking
    that they exist, are active and hold ``role`` (or a more privileged one).

    :class:`PermissionError` otherwise (``None`` = not signed in).
    """
    if role not in db.ROLES:
        raise ValueError(f"unknown role {role!r}; one of {db.ROLES}")
    if volunteer_id is None:
        raise PermissionError("sign in first")
    try:
        person = get_volunteer(ws, volunteer_id)
    except InputError as err:
        raise PermissionError("unknown account; sign in again") from err
    if not person.active:
        raise PermissionError("this account is disabled")
    if not person.has_role(role):
        raise PermissionError(f"this page needs the {role} role; you are a {person.role}")
    return person


# --------------------------------------------------------------------------- levels


@dataclass(frozen=True)
class LevelRule:
    """When a volunteer moves from level 1 (gold and confident candidates) to level 2 (the
    model's most uncertain ones): after ``min_gold`` answered gold candidates (>= 1) with a
    share ``promote_accuracy`` (0..1) right. Level 1 also gets candidates the live model
    scores with ``max(p, 1 - p) >= confident`` (0.5..1). Read from ``[crowd.levels]``."""

    promote_accuracy: float = 0.8
    min_gold: int = 5
    confident: float = 0.9

    def check(self, where: str | None = None) -> None:
        """Raise :class:`InputError` for an impossible setting."""
        if isinstance(self.min_gold, bool) or not isinstance(self.min_gold, int) \
                or self.min_gold < 1:
            raise InputError(where, f"min_gold must be an integer >= 1, got {self.min_gold!r}")
        for name, lo in (("promote_accuracy", 0.0), ("confident", 0.5)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not (math.isfinite(value) and lo <= value <= 1.0):
                raise InputError(where, f"{name} must be a number in [{lo:g}, 1], got {value!r}")

    @classmethod
    def from_dict(cls, table: Mapping[str, object], where: str | None = None) -> LevelRule:
        """The rule from a parsed TOML table; absent keys keep their defaults, unknown keys
        and bad values raise :class:`InputError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InputError(where, f"unknown level setting(s) {', '.join(unknown)}; "
                                    f"known: {', '.join(sorted(known))}")
        rule = cls(**table)  # type: ignore[arg-type]  # check() validates the types
        rule.check(where)
        return rule


def level_rule(ws: Workspace) -> LevelRule:
    """The ``[crowd.levels]`` table of the workspace's ``frbtriage.toml`` (defaults for what
    it lacks; :class:`InputError` for unknown keys or bad values)."""
    from frbtriage.workspace import CONFIG_NAME

    path = ws.path / CONFIG_NAME
    try:
        table = tomllib.loads(path.read_text()).get("crowd", {}).get("levels", {})
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InputError(path, f"unreadable workspace settings ({err})") from err
    return LevelRule.from_dict(table, str(path))


@dataclass(frozen=True)
class Progress:
    """A volunteer's record: ``total`` votes, ``today`` (UTC day), ``streak`` (consecutive
    days with a vote, ending today or yesterday), gold answers and how many were right,
    ``level`` (1 or 2) and the ``rule`` it was judged by."""

    total: int
    today: int
    streak: int
    gold: int
    gold_correct: int
    level: int
    rule: LevelRule

    @property
    def accuracy(self) -> float | None:
        """Share of gold answers that were right; None before the first."""
        return self.gold_correct / self.gold if self.gold else None

    def to_next_level(self) -> str:
        """What is left to reach level 2, in words (empty at level 2)."""
        if self.level >= 2:
            return ""
        need = max(self.rule.min_gold - self.gold, 0)
        target = f"{self.rule.promote_accuracy:.0%}"
        if need:
            return f"{need} more training candidate(s) with at least {target} right"
        return f"raise your accuracy on training candidates to {target}"


def _utc_date(t: dt.datetime) -> dt.date:
    return db.as_utc(t).date()


def progress(ws: Workspace, volunteer_id: int, rule: LevelRule | None = None,
             now: dt.datetime | None = None) -> Progress:
    """The :class:`Progress` of ``volunteer_id`` (``rule`` default: :func:`level_rule`;
    ``now`` default: the current UTC time). A ``cant_tell`` on a gold candidate counts as
    not right, as in the consensus's gold accuracy."""
    rule = rule or level_rule(ws)
    today = _utc_date(now or db.utcnow())
    with ws.session() as s:
        rows = s.execute(select(db.VoteRecord.candidate_id, db.VoteRecord.answer,
                                db.VoteRecord.created)
                         .where(db.VoteRecord.volunteer_id == int(volunteer_id))).all()
        known = _known_labels(s, [r[0] for r in rows])
    days = {_utc_date(r[2]) for r in rows}
    streak, day = 0, today if today in days else today - dt.timedelta(days=1)
    while day in days:
        streak, day = streak + 1, day - dt.timedelta(days=1)
    gold = [(r[1], known[r[0]]) for r in rows if r[0] in known]
    right = sum(1 for answer, label in gold if answer == ("astro" if label == 1 else "rfi"))
    promoted = len(gold) >= rule.min_gold and right >= rule.promote_accuracy * len(gold)
    return Progress(total=len(rows), today=sum(1 for r in rows if _utc_date(r[2]) == today),
                    streak=streak, gold=len(gold), gold_correct=right,
                    level=2 if promoted else 1, rule=rule)


def _known_labels(s: Session, candidate_ids: Iterable[int]) -> dict[int, int]:
    """``{candidate id: known class}`` (the most trusted truth label, rounded) of the given
    candidates that have one."""
    ids = sorted({int(i) for i in candidate_ids})
    out: dict[int, tuple[int, int]] = {}  # id -> (trust rank, class)
    for lo in range(0, len(ids), 500):
        q = select(db.LabelRecord.candidate_id, db.LabelRecord.source, db.LabelRecord.value
                   ).where(db.LabelRecord.candidate_id.in_(ids[lo:lo + 500]),
                           db.LabelRecord.source.in_(db.TRUTH_SOURCES))
        for cid, source, value in s.execute(q):
            rank = db.TRUTH_SOURCES.index(source)
            if cid not in out or rank < out[cid][0]:
                out[cid] = (rank, int(round(value)))
    return {cid: cls for cid, (_, cls) in out.items()}


# --------------------------------------------------------------------------- serving


def _fresh(volunteer_id: int, level: int, rule: LevelRule, live: str | None, limit: int):
    """Candidates ``volunteer_id`` was neither served nor voted on, best first for
    ``level``: level 2 the open queue by priority; level 1 gold candidates, then those the
    ``live`` model is surest about (``rule.confident``)."""
    def untouched(col):  # noqa: ANN001, ANN202
        return and_(
            ~exists().where(db.AssignmentRecord.volunteer_id == volunteer_id,
                            db.AssignmentRecord.candidate_id == col),
            ~exists().where(db.VoteRecord.volunteer_id == volunteer_id,
                            db.VoteRecord.candidate_id == col))

    if level >= 2:
        return (select(db.QueueRecord.candidate_id)
                .where(db.QueueRecord.retired.is_(False), untouched(db.QueueRecord.candidate_id))
                .order_by(db.QueueRecord.priority.desc(), db.QueueRecord.candidate_id)
                .limit(limit))
    cand = db.CandidateRecord.id
    gold = exists().where(db.LabelRecord.candidate_id == cand,
                          db.LabelRecord.source.in_(db.TRUTH_SOURCES))
    sure = func.abs(db.ScoreRecord.p_astro - 0.5) * 2.0
    score_join = and_(db.ScoreRecord.candidate_id == cand, db.ScoreRecord.model_version == live)
    return (select(cand)
            .outerjoin(db.ScoreRecord, score_join)
            .where(or_(gold, sure >= 2.0 * rule.confident - 1.0), not_retired(cand),
                   untouched(cand))
            .order_by(gold.desc(), func.coalesce(sure, 1.0).desc(), cand)
            .limit(limit))


def _live_version(s: Session) -> str | None:
    rec = db.current_model(s)
    return None if rec is None else rec.version


def next_for(ws: Workspace, volunteer_id: int, rule: LevelRule | None = None,
             exclude: Sequence[int] = (), *, peek: int = 16) -> int | None:
    """The candidate to show ``volunteer_id`` (see the module's serving protocol), never one
    of ``exclude``; None when nothing is left for them. Level 1 falls back to the queue when
    no gold or confident candidate is left. Safe under concurrent callers."""
    vid = int(volunteer_id)
    rule = rule or level_rule(ws)
    with ws.session() as s:
        pending = s.scalars(outstanding(vid, exclude).limit(1)).first()
        live = _live_version(s)
    if pending is not None:
        return int(pending)
    level = progress(ws, vid, rule).level
    for lvl in (level, 2) if level < 2 else (2,):
        while True:
            with ws.session() as s:
                options = [c for c in s.scalars(_fresh(vid, lvl, rule, live, peek + len(exclude)))
                           if c not in exclude]
            if not options:
                break
            got = claim(ws, vid, options)
            if got is not None:
                return got
    return None


def cast_vote(ws: Workspace, volunteer_id: int, candidate_id: int, answer: str,
              tags: Iterable[str] = (), seconds: float | None = None) -> Receipt:
    """Store ``volunteer_id``'s answer about ``candidate_id`` once
    (:func:`frbtriage.crowd.votes.submit_vote`, with the live model's version and source
    ``app``) after :func:`require`; a repeat returns the stored vote with ``stored=False``."""
    require(ws, volunteer_id, "volunteer")
    with ws.session() as s:
        live = _live_version(s)
    return submit_vote(ws, volunteer_id, candidate_id, answer, tags=list(tags),
                       seconds=seconds, model_version=live, source="app")


def feedback(receipt: Receipt) -> str:
    """What to tell a volunteer after a gold candidate (empty for others)."""
    if receipt.known is None:
        return ""
    said = receipt.vote.answer
    right = said == ("astro" if receipt.known == 1 else "rfi")
    verdict = "You agree." if right else (
        "Hard to tell, isn't it?" if said == "cant_tell" else "Not what you said this time.")
    return f"The science team says: {CLASS_WORDS[receipt.known]}. {verdict}"


# --------------------------------------------------------------------------- describing


def describe(rec: db.CandidateRecord) -> list[str]:
    """DM, S/N and width of a candidate in words a volunteer understands."""
    width_ms = rec.width * CHIME_TSAMP * 1e3
    return [
        f"Dispersion measure {rec.dm:.0f} pc/cm³: the burst's low frequencies arrive later "
        "by an amount that grows with the gas it crossed; larger means farther away.",
        f"Signal-to-noise {rec.snr:.1f}: how far the pulse stands above the noise "
        "(7 is barely visible, above 20 is bright).",
        f"Width about {width_ms:.1f} ms ({rec.width} samples): how long the pulse lasts.",
    ]


@dataclass(frozen=True)
class GuideExample:
    """A field-guide example: a gold candidate, its known class (1 astrophysical, 0 not)
    and a caption."""

    candidate_id: int
    label: int
    caption: str


def field_guide(ws: Workspace, per_class: int = 2) -> list[GuideExample]:
    """Up to ``per_class`` gold candidates of each class, brightest (highest S/N) first:
    real examples from this workspace for the volunteers' field guide."""
    out: list[GuideExample] = []
    with ws.session() as s:
        known = _known_labels(s, s.scalars(select(db.LabelRecord.candidate_id).where(
            db.LabelRecord.source.in_(db.TRUTH_SOURCES))))
    recs = sorted(ws.candidates(sorted(known)), key=lambda r: (-r.snr, r.id))
    for label, words in ((1, "An astrophysical burst: a bright vertical line in the dynamic "
                             "spectrum (dispersion removed), a sharp peak in the profile, "
                             "and a bowtie centred in the DM-time image."),
                         (0, "RFI or noise: no bowtie at the candidate's DM; often a "
                             "horizontal band, a flash at all frequencies at once, or "
                             "nothing at all.")):
        picks = [r for r in recs if known[r.id] == label][:per_class]
        out += [GuideExample(r.id, label, f"{words} (S/N {r.snr:.0f}, DM {r.dm:.0f})")
                for r in picks]
    return out


class PictureCache:
    """Candidate pictures as PNG bytes (:func:`frbtriage.plots.candidate_raster`), rendered
    once and kept for the ``size`` most recent candidates; :meth:`prefetch` renders one in a
    background thread so that :meth:`get` finds it ready. Thread-safe; one per workspace."""

    def __init__(self, ws: Workspace, size: int = 256, workers: int = 2) -> None:
        self.ws = ws
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[int, Future[bytes]] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pictures")

    def _render(self, candidate_id: int) -> bytes:
        from frbtriage.plots import candidate_raster, png_bytes

        ft, dmt = self.ws.candidate_images(candidate_id)
        return png_bytes(candidate_raster(ft, dmt))

    def _future(self, candidate_id: int, submit: Callable[[int], Future[bytes]]) -> Future[bytes]:
        with self._lock:
            fut = self._items.get(candidate_id)
            if fut is None or (fut.done() and fut.exception() is not None):
                fut = submit(candidate_id)
                self._items[candidate_id] = fut
            self._items.move_to_end(candidate_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return fut

    def prefetch(self, candidate_id: int | None) -> None:
        """Start rendering ``candidate_id`` in the background (nothing for None)."""
        if candidate_id is not None:
            self._future(int(candidate_id), lambda c: self._pool.submit(self._render, c))

    def get(self, candidate_id: int) -> bytes:
        """The PNG of ``candidate_id``, rendered now unless cached or being prefetched."""
        def now(c: int) -> Future[bytes]:
            fut: Future[bytes] = Future()
            try:
                fut.set_result(self._render(c))
            except Exception as err:  # handed to the caller by result() below
                fut.set_exception(err)
            return fut

        return self._future(int(candidate_id), now).result()

    def close(self) -> None:
        """Stop the background threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- researchers

#: Columns of :func:`candidate_rows`, in order.
ROW_COLUMNS = ("id", "file", "tcand", "dm", "snr", "width", "p_astro", "p_std", "bald",
               "dispersion_index", "dispersion_err", "votes", "astro", "rfi", "cant_tell",
               "agreement", "tags", "known", "retired")
#: Columns :class:`CandidateFilter` may sort by.
SORT_COLUMNS = ("id", "tcand", "dm", "snr", "width", "p_astro", "p_std", "bald",
                "dispersion_index", "votes", "agreement")


@dataclass(frozen=True)
class CandidateFilter:
    """What the researcher table shows: ranges ``(lo, hi)`` (None = open) of the live
    model's ``p_astro``, ``p_std`` and ``bald``, of ``dm``, ``snr``, ``width`` (samples),
    ``tcand`` (s), ``votes`` and the measured ``dispersion_index`` (2 for cold plasma; a
    range excludes candidates where it was not measured); ``min_agreement`` of the decisive
    votes; ``file_contains`` (a substring of the data file's path); ``tags`` (candidates
    with any of them); sorted by ``sort_by`` (one of :data:`SORT_COLUMNS`), ``descending``;
    at most ``limit`` rows."""

    p_astro: tuple[float | None, float | None] = (None, None)
    p_std: tuple[float | None, float | None] = (None, None)
    bald: tuple[float | None, float | None] = (None, None)
    dm: tuple[float | None, float | None] = (None, None)
    snr: tuple[float | None, float | None] = (None, None)
    width: tuple[float | None, float | None] = (None, None)
    tcand: tuple[float | None, float | None] = (None, None)
    votes: tuple[float | None, float | None] = (None, None)
    dispersion_index: tuple[float | None, float | None] = (None, None)
    min_agreement: float | None = None
    file_contains: str = ""
    tags: tuple[str, ...] = ()
    sort_by: str = "p_astro"
    descending: bool = True
    limit: int = 500

    def check(self) -> None:
        """Raise :class:`InputError` for an unknown sort column or tag, or a bad limit."""
        if self.sort_by not in SORT_COLUMNS:
            raise InputError(None, f"sort_by must be one of {', '.join(SORT_COLUMNS)}")
        unknown = sorted(set(self.tags) - set(TAGS))
        if unknown:
            raise InputError(None, f"unknown tag(s) {', '.join(unknown)}")
        if self.limit < 1:
            raise InputError(None, f"limit must be >= 1, got {self.limit}")

    def keeps(self, row: Mapping[str, object]) -> bool:
        """True when ``row`` (of :func:`candidate_rows`) passes every condition."""
        for name in ("p_astro", "p_std", "bald", "dm", "snr", "width", "tcand", "votes",
                     "dispersion_index"):
            lo, hi = getattr(self, name)
            value = row[name]
            if (lo is not None or hi is not None) and value is None:
                return False
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                return False
        agreement = row["agreement"]
        if self.min_agreement is not None and (agreement is None
                                               or agreement < self.min_agreement):
            return False
        if self.file_contains and self.file_contains not in str(row["file"]):
            return False
        return not self.tags or bool(set(self.tags) & set(str(row["tags"]).split(",")))


@dataclass
class _VoteTally:
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    tags: Counter[str] = field(default_factory=Counter)


def _tallies(s: Session, candidate_ids: Iterable[int] | None = None) -> dict[int, _VoteTally]:
    """Votes per answer and tag counts of each voted candidate (all, or ``candidate_ids``)."""
    q = select(db.VoteRecord.candidate_id, db.VoteRecord.answer, db.VoteRecord.tags)
    if candidate_ids is not None:
        q = q.where(db.VoteRecord.candidate_id.in_([int(i) for i in candidate_ids]))
    out: dict[int, _VoteTally] = {}
    for cid, answer, tags in s.execute(q):
        t = out.setdefault(cid, _VoteTally())
        t.counts[ANSWERS.index(answer)] += 1
        t.tags.update(x for x in tags.split(",") if x)
    return out


def _agreement(counts: Sequence[int]) -> float | None:
    decisive = counts[ASTRO] + counts[RFI]
    return max(counts[ASTRO], counts[RFI]) / decisive if decisive else None


def candidate_rows(ws: Workspace, flt: CandidateFilter = CandidateFilter()
                   ) -> list[dict[str, object]]:
    """The researcher table: one dict per candidate passing ``flt`` (keys
    :data:`ROW_COLUMNS`: the live model's scores, or None when unscored; vote counts and
    agreement; ``tags`` comma-separated, most voted first; ``known`` the known class or
    None; ``retired``), sorted and cut as ``flt`` says."""
    flt.check()
    with ws.session() as s:
        live = _live_version(s)
        scores = {r.candidate_id: r for r in db.read_scores(s, live)} if live else {}
        tallies = _tallies(s)
        known = _known_labels(s, s.scalars(select(db.LabelRecord.candidate_id).where(
            db.LabelRecord.source.in_(db.TRUTH_SOURCES))))
        retired = set(s.scalars(select(db.QueueRecord.candidate_id).where(
            db.QueueRecord.retired.is_(True))))
        recs = s.execute(select(db.CandidateRecord.id, db.CandidateRecord.file,
                                db.CandidateRecord.tcand, db.CandidateRecord.dm,
                                db.CandidateRecord.snr, db.CandidateRecord.width,
                                db.CandidateRecord.dispersion_index,
                                db.CandidateRecord.dispersion_err)).all()
    rows = []
    for cid, file, tcand, dm, snr, width, d_index, d_err in recs:
        sc, t = scores.get(cid), tallies.get(cid, _VoteTally())
        row = {"id": cid, "file": file, "tcand": tcand, "dm": dm, "snr": snr, "width": width,
               "p_astro": sc.p_astro if sc else None, "p_std": sc.p_std if sc else None,
               "bald": sc.bald if sc else None, "dispersion_index": d_index,
               "dispersion_err": d_err, "votes": sum(t.counts),
               "astro": t.counts[ASTRO], "rfi": t.counts[RFI], "cant_tell": t.counts[CANT_TELL],
               "agreement": _agreement(t.counts),
               "tags": ",".join(tag for tag, _ in t.tags.most_common()),
               "known": known.get(cid), "retired": cid in retired}
        if flt.keeps(row):
            rows.append(row)
    present = [r for r in rows if r[flt.sort_by] is not None]
    absent = [r for r in rows if r[flt.sort_by] is None]
    present.sort(key=lambda r: (r[flt.sort_by], r["id"]), reverse=flt.descending)
    return (present + absent)[:flt.limit]


@dataclass(frozen=True)
class CandidateDetail:
    """Everything about one candidate: its ``record``, ``votes`` per answer, ``tags`` with
    their counts, ``scores`` by model version ``{version: (p_astro, p_std, bald)}``,
    ``labels`` ``{source: (value, ref)}``, ``neighbours`` (:func:`neighbours`) and
    ``dispersion``, the dispersion-law check of its ``ft`` image
    (:func:`frbtriage.dispersion.check_candidate`: is the sweep cold plasma's?)."""

    record: db.CandidateRecord
    votes: dict[str, int]
    tags: dict[str, int]
    scores: dict[str, tuple[float, float, float]]
    labels: dict[str, tuple[float, str]]
    neighbours: list[db.CandidateRecord]
    dispersion: DispersionCheck


def neighbours(ws: Workspace, candidate_id: int, seconds: float = 1.0,
               dm_fraction: float = 0.2) -> list[db.CandidateRecord]:
    """Other candidates of the same data file within ``seconds`` of it in time and
    ``dm_fraction`` of its DM (at least 1 pc cm^-3), nearest in time first."""
    rec = ws.candidate(candidate_id)
    ddm = max(1.0, dm_fraction * rec.dm)
    c = db.CandidateRecord
    with ws.session() as s:
        found = list(s.scalars(select(c).where(
            c.file == rec.file, c.id != rec.id, c.tcand.between(rec.tcand - seconds,
                                                                 rec.tcand + seconds),
            c.dm.between(rec.dm - ddm, rec.dm + ddm))))
    return sorted(found, key=lambda r: (abs(r.tcand - rec.tcand), r.id))


def candidate_detail(ws: Workspace, candidate_id: int) -> CandidateDetail:
    """The :class:`CandidateDetail` of ``candidate_id`` (``KeyError`` if there is none)."""
    rec = ws.candidate(candidate_id)
    with ws.session() as s:
        tally = _tallies(s, [rec.id]).get(rec.id, _VoteTally())
        scores = {r.model_version: (r.p_astro, r.p_std, r.bald) for r in s.scalars(
            select(db.ScoreRecord).where(db.ScoreRecord.candidate_id == rec.id))}
    ft, _ = ws.candidate_images(rec.id)
    return CandidateDetail(record=rec, votes=dict(zip(ANSWERS, tally.counts, strict=True)),
                           tags=dict(tally.tags.most_common()), scores=scores,
                           labels={lab.source: (lab.value, lab.ref) for lab in rec.labels},
                           neighbours=neighbours(ws, rec.id),
                           dispersion=check_candidate(rec, ft))


def set_expert_label(ws: Workspace, researcher_id: int, candidate_id: int,
                     is_astro: bool) -> None:
    """Record a researcher's judgement of ``candidate_id`` (label source ``expert``, the most
    trusted: the candidate becomes gold), after :func:`require` of the researcher role."""
    person = require(ws, researcher_id, "researcher")
    ws.candidate(candidate_id)  # KeyError for an unknown candidate
    with ws.session() as s, s.begin():
        db.set_labels(s, "expert", [int(candidate_id)], [1.0 if is_astro else 0.0],
                      ref=f"researcher:{person.name}")


def selection_csv(rows: Sequence[Mapping[str, object]]) -> bytes:
    """Rows of :func:`candidate_rows` as CSV bytes (columns :data:`ROW_COLUMNS`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=ROW_COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return buf.getvalue().encode()


#: Most candidates one FETCH .h5 zip may hold (each file is ~0.5 MB).
MAX_H5_ZIP = 200


def selection_h5_zip(ws: Workspace, researcher_id: int, candidate_ids: Sequence[int]) -> bytes:
    """FETCH ``.h5`` files of ``candidate_ids`` (:func:`frbtriage.workspace.export_fetch_h5`)
    in one zip, after :func:`require` of the researcher role; :class:`InputError` beyond
    :data:`MAX_H5_ZIP` candidates. Written through a private temporary folder."""
    from frbtriage.workspace import export_fetch_h5

    require(ws, researcher_id, "researcher")
    ids = sorted({int(i) for i in candidate_ids})
    if len(ids) > MAX_H5_ZIP:
        raise InputError(None, f"at most {MAX_H5_ZIP} candidates per download, got {len(ids)}")
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="frbtriage-h5-") as tmp:
        summary = export_fetch_h5(ws, tmp, ids)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in summary.paths:
                zf.write(path, Path(path).name)
    return buf.getvalue()


# --------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Dashboard:
    """The project's health: ``models`` (:class:`frbtriage.model.registry.ModelInfo`, the
    live one has status ``current``), ``queue_open`` entries, ``retired`` candidates,
    ``votes_per_day`` ``[(date, n)]``, ``volunteers`` (rows of
    :func:`frbtriage.crowd.consensus.volunteer_rows`, empty without votes), ``agreement``
    (mean agreement of candidates with >= 2 decisive votes, None without any) and
    ``weird`` ``[(candidate id, votes tagging it something_weird)]``, most tagged first."""

    models: list[ModelInfo]
    queue_open: int
    retired: int
    votes_per_day: list[tuple[dt.date, int]]
    volunteers: list[dict[str, object]]
    agreement: float | None
    weird: list[tuple[int, int]]


def _volunteer_table(ws: Workspace) -> list[dict[str, object]]:
    """Per-volunteer reliability from a Dawid–Skene run over every vote, computed without
    writing anything (:func:`frbtriage.crowd.consensus.estimate`)."""
    from frbtriage.crowd.consensus import estimate, volunteer_rows

    found = estimate(ws)
    return [] if found is None else volunteer_rows(ws, found)


def dashboard(ws: Workspace) -> Dashboard:
    """The :class:`Dashboard` of ``ws`` (read only)."""
    from frbtriage.model.registry import list_models
    from frbtriage.queue import open_count

    with ws.session() as s:
        retired = int(s.scalar(select(func.count()).select_from(db.QueueRecord).where(
            db.QueueRecord.retired.is_(True))) or 0)
        times = list(s.scalars(select(db.VoteRecord.created)))
        tallies = _tallies(s)
    per_day = Counter(_utc_date(t) for t in times)
    agreements = [a for t in tallies.values()
                  if t.counts[ASTRO] + t.counts[RFI] >= 2 and (a := _agreement(t.counts))]
    weird = sorted(((cid, t.tags["something_weird"]) for cid, t in tallies.items()
                    if t.tags["something_weird"]), key=lambda x: (-x[1], x[0]))
    return Dashboard(models=list_models(ws), queue_open=open_count(ws), retired=retired,
                     votes_per_day=sorted(per_day.items()), volunteers=_volunteer_table(ws),
                     agreement=float(np.mean(agreements)) if agreements else None,
                     weird=weird)
