"""From stored votes to labels: Dawid–Skene consensus, retirement, and the tables people
export (one row per voted candidate, one per volunteer).

:func:`aggregate` reads every vote of a workspace, anchors the Dawid–Skene EM
(:func:`frbtriage.crowd.aggregate.dawid_skene`) with the gold candidates (those with a known
label: expert, simulation or list), writes each non-gold candidate's consensus as a label of
source ``votes`` (``value`` = p(astro), ``weight`` = its decisive votes, i.e. not
``cant_tell``) and retires the queue entries whose label is settled
(:class:`frbtriage.crowd.retire.RetirementRule`; gold entries stay, to keep measuring
volunteers). Re-running it on the same votes writes the same labels.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from frbtriage import db
from frbtriage.crowd.aggregate import (
    DawidSkeneConfig,
    DawidSkeneResult,
    ItemSummary,
    dawid_skene,
    majority_vote,
)
from frbtriage.crowd.answers import ANSWERS, ASTRO, NOT_ASTRO
from frbtriage.crowd.retire import RetirementRule, retired
from frbtriage.errors import InputError
from frbtriage.io.candidates import log2_text

if TYPE_CHECKING:
    from frbtriage.workspace import Workspace

#: ``ref`` of the labels :func:`aggregate` writes.
CONSENSUS_REF = "dawid-skene"


def retirement_rule(ws: Workspace) -> RetirementRule:
    """The ``[crowd.retire]`` table of the workspace's ``frbtriage.toml`` (``min_votes``,
    ``min_agreement``, ``posterior``) as a rule: defaults for keys it lacks,
    :class:`InputError` for unknown keys or bad values."""
    from frbtriage.workspace import CONFIG_NAME

    path = ws.path / CONFIG_NAME
    try:
        table = tomllib.loads(path.read_text()).get("crowd", {}).get("retire", {})
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InputError(path, f"unreadable workspace settings ({err})") from err
    return RetirementRule.from_dict(table, str(path))


@dataclass(frozen=True)
class Consensus:
    """What :func:`aggregate` found: the Dawid–Skene ``result``, the ``majority`` baseline
    (same item order), ``gold`` ``{candidate id: known class}``, the candidate ids
    ``retired`` by this run, and ``labelled`` = number of ``votes`` labels written."""

    result: DawidSkeneResult
    majority: ItemSummary
    gold: dict[int, int]
    retired: list[int]
    labelled: int

    def __str__(self) -> str:
        it = self.result.items
        return (f"{int(it.n_votes.sum())} votes on {len(it.items)} candidates by "
                f"{len(self.result.workers.workers)} volunteers ({len(self.gold)} gold among "
                f"them): {self.labelled} consensus labels written, {len(self.retired)} "
                f"candidates retired")


def _vote_arrays(ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with ws.session() as s:
        rows = s.execute(select(db.VoteRecord.candidate_id, db.VoteRecord.volunteer_id,
                                db.VoteRecord.answer).order_by(db.VoteRecord.id)).all()
    code = {a: i for i, a in enumerate(ANSWERS)}
    return (np.asarray([r[0] for r in rows], dtype=np.int64),
            np.asarray([r[1] for r in rows], dtype=np.int64),
            np.asarray([code[r[2]] for r in rows], dtype=np.int64))


def gold_classes(ws: Workspace, candidate_ids: np.ndarray) -> dict[int, int]:
    """``{candidate id: ASTRO or NOT_ASTRO}`` of the given candidates that have a known label."""
    out: dict[int, int] = {}
    for rec in ws.candidates(sorted({int(i) for i in candidate_ids})):
        if rec.label is not None:
            out[rec.id] = ASTRO if rec.label == 1 else NOT_ASTRO
    return out


def estimate(ws: Workspace, config: DawidSkeneConfig | None = None) -> Consensus | None:
    """The consensus of every vote of ``ws`` (Dawid–Skene anchored by gold, and the majority
    baseline) without writing anything; None when there are no votes."""
    item, worker, answer = _vote_arrays(ws)
    if item.size == 0:
        return None
    gold = gold_classes(ws, item)
    result = dawid_skene(item, worker, answer, gold=gold, config=config or DawidSkeneConfig())
    return Consensus(result=result, majority=majority_vote(item, answer), gold=gold,
                     retired=[], labelled=0)


def aggregate(ws: Workspace, rule: RetirementRule | None = None,
              config: DawidSkeneConfig | None = None) -> Consensus:
    """:func:`estimate`, then store it (see the module); :class:`InputError` if there are
    no votes. ``rule`` defaults to the workspace's ``[crowd.retire]`` settings."""
    from frbtriage.queue import retire

    rule = rule or retirement_rule(ws)
    rule.check()
    found = estimate(ws, config)
    if found is None:
        raise InputError(ws.path, "no votes to aggregate yet")
    it = found.result.items
    not_gold = np.asarray([int(i) not in found.gold for i in it.items], dtype=bool)
    decisive = it.n_decisive
    keep = not_gold & (decisive > 0)
    with ws.session() as s, s.begin():
        n = db.set_labels(s, "votes", it.items[keep], it.p_astro[keep], decisive[keep],
                          ref=CONSENSUS_REF)
    newly = retire(ws, [int(i) for i in it.items[retired(it, rule) & not_gold]])
    return dataclasses.replace(found, retired=newly, labelled=n)


#: Columns of :func:`label_rows`.
LABEL_COLUMNS = ("candidate_id", "file", "stime", "dm", "width", "snr", "votes_astro",
                 "votes_rfi", "votes_cant_tell", "p_astro_votes", "uncertainty", "agreement",
                 "label_votes", "p_astro_majority", "gold", "retired")


def label_rows(ws: Workspace, consensus: Consensus) -> list[dict[str, object]]:
    """One row per voted candidate (columns :data:`LABEL_COLUMNS`; ``width`` as log2 of
    samples like your/FETCH lists; ``label_votes`` 1 astrophysical / 0 not; ``gold`` the
    known label or empty)."""
    it, mv = consensus.result.items, consensus.majority
    recs = {r.id: r for r in ws.candidates(it.items.tolist())}
    with ws.session() as s:
        retired_ids = set(s.scalars(select(db.QueueRecord.candidate_id).where(
            db.QueueRecord.retired.is_(True))))
    rows = []
    for k, cid in enumerate(it.items.tolist()):
        r = recs[cid]
        rows.append({
            "candidate_id": cid, "file": r.file, "stime": f"{r.tcand:.7f}", "dm": f"{r.dm:g}",
            "width": log2_text(r.width), "snr": f"{r.snr:g}",
            "votes_astro": int(it.counts[k, 0]), "votes_rfi": int(it.counts[k, 1]),
            "votes_cant_tell": int(it.counts[k, 2]),
            "p_astro_votes": f"{it.p_astro[k]:.6f}", "uncertainty": f"{it.uncertainty[k]:.6f}",
            "agreement": f"{it.agreement[k]:.6f}",
            "label_votes": int(it.label[k] == ASTRO),
            "p_astro_majority": f"{mv.p_astro[k]:.6f}",
            "gold": "" if cid not in consensus.gold else int(consensus.gold[cid] == ASTRO),
            "retired": int(cid in retired_ids),
        })
    return rows


#: Columns of :func:`volunteer_rows`.
VOLUNTEER_COLUMNS = ("volunteer_id", "name", "role", "active", "votes", "gold_votes",
                     "gold_correct", "gold_accuracy", "reliability", "p_astro_given_astro",
                     "p_rfi_given_not_astro", "p_cant_tell")


def volunteer_rows(ws: Workspace, consensus: Consensus) -> list[dict[str, object]]:
    """One row per volunteer who voted (columns :data:`VOLUNTEER_COLUMNS`): their votes,
    accuracy on gold, and the reliability the EM estimated (balanced accuracy of their
    confusion matrix) with its main entries."""
    from frbtriage.crowd.volunteers import list_volunteers

    w = consensus.result.workers
    people = {v.id: v for v in list_volunteers(ws)}
    rows = []
    for k, vid in enumerate(w.workers.tolist()):
        v, c = people[vid], w.confusion[k]
        acc = w.gold_accuracy[k]
        rows.append({
            "volunteer_id": vid, "name": v.name, "role": v.role, "active": int(v.active),
            "votes": int(w.n_votes[k]), "gold_votes": int(w.n_gold[k]),
            "gold_correct": int(w.n_gold_correct[k]),
            "gold_accuracy": "" if np.isnan(acc) else f"{acc:.4f}",
            "reliability": f"{w.reliability[k]:.4f}",
            "p_astro_given_astro": f"{c[ASTRO, ASTRO]:.4f}",
            "p_rfi_given_not_astro": f"{c[NOT_ASTRO, 1]:.4f}",
            "p_cant_tell": f"{(c[ASTRO, 2] + c[NOT_ASTRO, 2]) / 2:.4f}",
        })
    return rows
