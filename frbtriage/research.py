"""Read-only views of a workspace for researchers' notebooks and the nightly report.

Plain Python values (lists of dicts, :class:`frbtriage.db.ScoreRow`), so a notebook can
turn them into a ``pandas.DataFrame`` in one call and nothing here depends on pandas.
Scores default to the workspace's live model (:func:`frbtriage.model.registry.live_info`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from frbtriage import db
from frbtriage.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from frbtriage.workspace import Workspace

#: Keys of each row of :func:`candidate_table`.
CANDIDATE_COLUMNS = ("id", "file", "tcand", "dm", "width", "snr", "padded", "truth",
                     "truth_source", "p_astro", "p_std", "bald", "votes_astro", "votes_rfi",
                     "votes_cant_tell", "p_astro_votes")


def live_version(ws: Workspace, required: bool = True) -> str | None:
    """The version of the live model. A workspace with none yet gives None, or with
    ``required`` an :class:`InputError` (score it first: ``frbtriage score`` or
    ``frbtriage nightly``)."""
    from frbtriage.model.registry import live_info

    info = live_info(ws)
    if info is None and required:
        raise InputError(ws.path, "the workspace has no live model yet; score it first")
    return None if info is None else info.version


def scores_of(ws: Workspace, ids: Sequence[int] | None = None,
              model_version: str | None = None) -> dict[int, db.ScoreRow]:
    """Scores by ``model_version`` (default: the live model) of all candidates, or of
    ``ids``, by candidate id; candidates it has not scored are left out."""
    version = model_version or live_version(ws)
    with ws.session() as s:
        return {r.candidate_id: r for r in db.read_scores(s, version, ids)}


def score_history(ws: Workspace, ids: Sequence[int] | None = None) -> list[db.ScoreRow]:
    """Every model version's scores of all candidates (or of ``ids``), by candidate id then
    model version: how a candidate's p_astro moved as the model was retrained."""
    from frbtriage.model.registry import list_models

    rows = [r for m in list_models(ws) for r in scores_of(ws, ids, m.version).values()]
    return sorted(rows, key=lambda r: (r.candidate_id, r.model_version))


def ranked_ids(ws: Workspace, by: str = "p_astro", n: int | None = None,
               model_version: str | None = None) -> list[int]:
    """Ids of the scored candidates, best first by ``by``: ``"p_astro"`` (most likely
    astrophysical) or ``"bald"`` / ``"p_std"`` (the model least sure); the first ``n``."""
    if by not in ("p_astro", "bald", "p_std"):
        raise ValueError(f"by must be p_astro, bald or p_std, got {by!r}")
    rows = scores_of(ws, None, model_version).values()
    order = sorted(rows, key=lambda r: (-getattr(r, by), r.candidate_id))
    return [r.candidate_id for r in order[:n]]


def candidate_table(ws: Workspace, ids: Sequence[int] | None = None,
                    model_version: str | None = None) -> list[dict[str, object]]:
    """One dict per candidate (all, or ``ids``; keys :data:`CANDIDATE_COLUMNS`): its
    parameters (``tcand`` s, ``dm`` pc cm^-3, ``width`` samples), known label (``truth``
    1 / 0 / None and its source), the score by ``model_version`` (default live; None when
    unscored), the volunteers' vote counts and their aggregated p(astro) (None: none)."""
    from frbtriage.crowd.votes import votes_of

    version = model_version or live_version(ws, required=False)
    scores = scores_of(ws, ids, version) if version is not None else {}
    counts: dict[int, dict[str, int]] = {}
    for v in votes_of(ws, candidate_ids=ids):
        c = counts.setdefault(v.candidate_id, {"astro": 0, "rfi": 0, "cant_tell": 0})
        c[v.answer] = c.get(v.answer, 0) + 1
    rows = []
    for rec in ws.candidates(ids):
        sc = scores.get(rec.id)
        truth, voted = rec.truth, rec.label_from("votes")
        c = counts.get(rec.id, {})
        rows.append({
            "id": rec.id, "file": rec.file, "tcand": rec.tcand, "dm": rec.dm,
            "width": rec.width, "snr": rec.snr, "padded": rec.padded, "truth": rec.label,
            "truth_source": None if truth is None else truth.source,
            "p_astro": None if sc is None else sc.p_astro,
            "p_std": None if sc is None else sc.p_std, "bald": None if sc is None else sc.bald,
            "votes_astro": c.get("astro", 0), "votes_rfi": c.get("rfi", 0),
            "votes_cant_tell": c.get("cant_tell", 0),
            "p_astro_votes": None if voted is None else voted.value})
    return rows


@dataclass(frozen=True)
class Selection:
    """What :func:`export_selection` wrote: the your/FETCH candidate list ``csv`` and one
    FETCH ``.h5`` file per candidate (``h5``)."""

    csv: Path
    h5: list[Path]


def export_selection(ws: Workspace, ids: Sequence[int],
                     out_dir: str | os.PathLike[str]) -> Selection:
    """Write candidates ``ids`` to ``out_dir``: ``selection.csv`` (your/FETCH columns, the
    known label or -1) and their images as FETCH ``.h5`` files (``h5/``), for FETCH, your or
    a colleague without frbtriage."""
    from frbtriage.io.candidates import Candidate, write_fetch_csv
    from frbtriage.workspace import export_fetch_h5

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recs = ws.candidates(list(ids))
    csv = out / "selection.csv"
    write_fetch_csv(csv, [Candidate(file=r.file, tcand=r.tcand, dm=r.dm, width=r.width,
                                    snr=r.snr, label=r.label, origin=r.origin) for r in recs])
    h5 = export_fetch_h5(ws, out / "h5", ids=[r.id for r in recs]).paths
    return Selection(csv=csv, h5=h5)


def candidate_plot(ws: Workspace, cid: int, model_version: str | None = None) -> Figure:
    """:func:`frbtriage.plots.candidate_figure` of candidate ``cid`` titled with what a
    researcher (not a volunteer) may see: its id, DM, S/N, width, the score by
    ``model_version`` (default live; left out when unscored) and the known label."""
    from frbtriage.plots import candidate_figure

    row = candidate_table(ws, [cid], model_version)[0]
    title = f"#{cid}  DM {row['dm']:.1f}  S/N {row['snr']:.1f}  width {row['width']}"
    if row["p_astro"] is not None:
        title += f"  p_astro {row['p_astro']:.3f} ± {row['p_std']:.3f}"
    if row["truth"] is not None:
        title += f"  label {row['truth']} ({row['truth_source']})"
    ft, dmt = ws.candidate_images(cid)
    return candidate_figure(ft, dmt, title=title, size=(8.0, 4.5))


@dataclass(frozen=True)
class LabelledScores:
    """The candidates with a known label (expert, simulation or list; not aggregated votes)
    that ``model_version`` scored: their ``ids``, ``p_astro`` and ``labels`` (1 / 0), in id
    order, ready for :mod:`frbtriage.model.metrics`."""

    model_version: str
    ids: list[int]
    p_astro: NDArray[np.float64]
    labels: NDArray[np.int64]


def labelled_scores(ws: Workspace, model_version: str | None = None) -> LabelledScores:
    """:class:`LabelledScores` of ``model_version`` (default: the live model)."""
    version = model_version or live_version(ws)
    assert version is not None  # live_version raises rather than give None when required
    scores = scores_of(ws, None, version)
    known = [(r.id, r.label) for r in ws.candidates(sorted(scores)) if r.label is not None]
    return LabelledScores(model_version=version, ids=[i for i, _ in known],
                          p_astro=np.asarray([scores[i].p_astro for i, _ in known], np.float64),
                          labels=np.asarray([lab for _, lab in known], np.int64))


def active_curves(path: str | os.PathLike[str]) -> dict[str, dict[str, list[float]]] | None:
    """The active-learning curves of ``benchmarks/bench_active.py``'s ``active.json`` at
    ``path``: ``{strategy: {"votes", "auc_mean", "auc_sd"}}`` (test-set ROC AUC of the live
    model, mean and standard deviation over seeds, against volunteer votes); None when the
    file does not exist (the benchmark was not run), :class:`InputError` when it is not such
    a file."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        curves = json.loads(p.read_text())["summary"]["curves"]
        return {name: {key: [float(x) for x in c[key]] for key in ("votes", "auc_mean", "auc_sd")}
                for name, c in curves.items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(p, f"not an active-learning benchmark result ({err!r})") from err
