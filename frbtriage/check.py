"""Does a workspace hold together? (``frbtriage check [--repair]``)

:func:`check_workspace` verifies that the zarr arrays and the database agree and that every
registered model's files are what the registry recorded:

* ``orphan-rows``: array rows beyond the rows the database knows (an interrupted append) or
  leftover ``*.partial`` chunk files; **repaired** by :meth:`Workspace.repair`;
* ``row-gaps``: rows below the top that no candidate owns (not made by frbtriage; reported);
* ``duplicates``: two candidates with one duplicate key (file, tcand, DM, width) (reported:
  which one to keep is a person's call);
* ``orphan-records``: scores, labels, votes, queue entries or assignments of candidates that
  do not exist (written with foreign keys off); **repaired** by deleting them;
* ``unknown-model``: scores by a model version the registry lacks (reported);
* ``model-files``: a registered model whose weights are missing or whose SHA-256 differs
  (reported: ``frbtriage models rollback`` or restore the files).

Repairs take the workspace's write lock and each runs in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from frbtriage import db

if TYPE_CHECKING:
    from frbtriage.workspace import Workspace

#: Tables whose rows belong to a candidate (``candidate_id``), checked for orphans.
_OWNED = (db.ScoreRecord, db.LabelRecord, db.VoteRecord, db.QueueRecord, db.AssignmentRecord)


@dataclass(frozen=True)
class Problem:
    """One finding: ``kind`` (see the module), ``detail`` in words, ``count`` of things,
    whether it can be ``repairable`` and whether this run ``repaired`` it."""

    kind: str
    detail: str
    count: int
    repairable: bool
    repaired: bool = False

    def __str__(self) -> str:
        state = "repaired" if self.repaired else ("repairable with --repair" if self.repairable
                                                  else "needs a person")
        return f"{self.kind}: {self.detail} ({state})"


@dataclass
class CheckResult:
    """What :func:`check_workspace` found: ``candidates`` and array ``rows`` before any
    repair, ``models`` checked, and the ``problems``."""

    candidates: int = 0
    rows: int = 0
    models: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong any more (no problem, or all repaired)."""
        return all(p.repaired for p in self.problems)


def check_workspace(ws: Workspace, repair: bool = False) -> CheckResult:
    """Check ``ws`` (see the module); with ``repair``, fix what can safely be fixed."""
    with ws.session() as s:
        n_cand = db.count_candidates(s)
        top = db.next_row(s)
    res = CheckResult(candidates=n_cand, rows=int(max(ws.ft.shape[0], ws.dmt.shape[0])))
    _check_rows(ws, res, top, repair)
    _check_duplicates(ws, res)
    _check_orphans(ws, res, repair)
    _check_models(ws, res)
    return res


def _check_rows(ws: Workspace, res: CheckResult, top: int, repair: bool) -> None:
    partial = list(ws.path.glob("**/*.partial"))
    extra = res.rows - top
    if extra > 0 or partial:
        if repair:
            ws.repair()
        res.problems.append(Problem(
            "orphan-rows", f"{max(extra, 0)} array rows beyond the {top} the database knows, "
                           f"{len(partial)} leftover partial chunk files",
            max(extra, 0) + len(partial), True, repair))
    if res.candidates < top:
        res.problems.append(Problem("row-gaps", f"{top - res.candidates} array rows below "
                                                f"row {top} belong to no candidate",
                                    top - res.candidates, False))


def _check_duplicates(ws: Workspace, res: CheckResult) -> None:
    c = db.CandidateRecord
    q = (select(func.count()).select_from(c)
         .group_by(c.file, c.tcand_key, c.dm_key, c.width).having(func.count() > 1))
    with ws.session() as s:
        extra = sum(int(n) - 1 for n in s.scalars(q))
    if extra:
        res.problems.append(Problem("duplicates", f"{extra} candidates repeat another's "
                                                  "duplicate key", extra, False))


def _check_orphans(ws: Workspace, res: CheckResult, repair: bool) -> None:
    ids = select(db.CandidateRecord.id)
    with ws.session() as s:
        counts = {t.__tablename__: int(s.scalar(select(func.count()).select_from(t).where(
            t.candidate_id.not_in(ids))) or 0) for t in _OWNED}
        unknown = int(s.scalar(select(func.count()).select_from(db.ScoreRecord).where(
            db.ScoreRecord.model_version.not_in(select(db.ModelRecord.version)))) or 0)
    counts = {k: n for k, n in counts.items() if n}
    if counts:
        if repair:
            with ws.write_lock(), ws.session() as s, s.begin():
                for t in _OWNED:
                    s.execute(delete(t).where(t.candidate_id.not_in(ids)))
        words = ", ".join(f"{n} {k}" for k, n in counts.items())
        res.problems.append(Problem("orphan-records", f"records of missing candidates: {words}",
                                    sum(counts.values()), True, repair))
    if unknown:
        res.problems.append(Problem("unknown-model", f"{unknown} scores by model versions the "
                                                     "registry lacks", unknown, False))


def _check_models(ws: Workspace, res: CheckResult) -> None:
    from frbtriage.model.config import WEIGHTS_NAME, sha256_file
    from frbtriage.model.registry import list_models

    for m in list_models(ws):
        res.models += 1
        weights = Path(m.path) / WEIGHTS_NAME
        if not weights.is_file():
            why = f"weights missing ({weights})"
        elif sha256_file(weights) != m.sha256:
            why = f"weights {weights} do not match the registered SHA-256"
        else:
            continue
        res.problems.append(Problem("model-files", f"model {m.version} ({m.status}): {why}",
                                    1, False))
