"""Rank candidates by p(astro): candidate lists or FETCH ``.h5`` files in, ranked rows out.

:func:`rank_candidates` reads the inputs, prepares them into a given workspace (kept) or a
temporary one (removed afterwards), scores them with a loaded model and returns the rows
best first; :func:`write_ranked_csv` writes them as the ``frbtriage rank`` CSV. The verb,
the app, the nightly job and notebooks all call these two.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from frbtriage import db
from frbtriage.dispersion import checked_p_astro, cold_plasma
from frbtriage.errors import InputError
from frbtriage.io.candidates import (
    FETCH_COLUMNS,
    HEIMDALL_COLUMNS,
    Candidate,
    float_text,
    log2_text,
)
from frbtriage.safe_write import write_text
from frbtriage.workspace import IMAGE_SHAPE, NewCandidate, Workspace, fetch_h5_candidate

if TYPE_CHECKING:
    from frbtriage.model.config import LoadedModel

#: Columns of the ranked CSV: the your/FETCH candidate columns, the Heimdall columns (only
#: when a Heimdall list is among the inputs), then the scores.
LIST_COLUMNS = FETCH_COLUMNS
HEIMDALL_ONLY = tuple(c for c in HEIMDALL_COLUMNS if c not in FETCH_COLUMNS)
SCORE_COLUMNS = ("p_astro", "p_std", "bald", "model_version")
#: The dispersion-law check (:mod:`frbtriage.dispersion`): the sweep's exponent, its error,
#: ``cold_plasma`` ``yes`` / ``no`` by :func:`frbtriage.dispersion.cold_plasma`, and
#: ``p_checked``, the p_astro the rows are ranked by: capped at
#: :data:`frbtriage.dispersion.VETO_CAP` where the sweep is not cold plasma's.
CHECK_COLUMNS = ("dispersion_index", "dispersion_err", "cold_plasma", "p_checked")
COLUMNS = LIST_COLUMNS + SCORE_COLUMNS + CHECK_COLUMNS

_H5_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class RankOptions:
    """How :func:`rank_candidates` works.

    ``workspace`` folder to keep images and scores in (opened, or created when it holds
    none; None: a temporary workspace, removed afterwards); ``data_file`` the data file a
    Heimdall ``.cand`` list was searched from; ``batch_size`` candidates per scoring batch;
    ``device`` torch device (None: CUDA when available, else CPU); ``progress`` show bars.
    """

    workspace: str | os.PathLike[str] | None = None
    data_file: str | os.PathLike[str] | None = None
    batch_size: int = 256
    device: str | None = None
    progress: bool = False

    def check(self) -> None:
        """Raise :class:`InputError` for an impossible option."""
        if self.batch_size < 1:
            raise InputError(None, f"--batch-size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True)
class H5Candidate:
    """A candidate read from a FETCH ``.h5`` file, its images conformed to the workspace's
    ``(256, 256)`` (:func:`frbtriage.io.fetch_h5.conform_images`), and the file's
    ``attrs``."""

    candidate: Candidate
    ft: NDArray[np.float32]
    dmt: NDArray[np.float32]
    path: str
    attrs: Mapping[str, object] = field(default_factory=dict)

    def new_candidate(self) -> NewCandidate:
        """The record to store, as ``import-h5`` stores it
        (:func:`frbtriage.workspace.fetch_h5_candidate`)."""
        return fetch_h5_candidate(self.path, self.candidate, self.ft, self.attrs)


@dataclass
class RankInputs:
    """Candidates to rank, by kind, each with its position in the input (``order``):
    ``listed`` from candidate lists (prepared from their data files), ``h5`` from FETCH
    ``.h5`` files (images included); ``rejected`` the lists' bad rows, left out."""

    listed: list[tuple[int, Candidate]] = field(default_factory=list)
    h5: list[tuple[int, H5Candidate]] = field(default_factory=list)
    rejected: list[InputError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.listed) + len(self.h5)


def read_rank_inputs(paths: Sequence[str | os.PathLike[str]],
                     data_file: str | os.PathLike[str] | None = None) -> RankInputs:
    """Read candidate lists (your/FETCH ``.csv``, Heimdall ``.cand`` with ``data_file``) and
    FETCH ``.h5`` files, in input order. A FETCH file that breaks the workspace's image rule
    (:func:`frbtriage.io.fetch_h5.conform_images`) raises :class:`InputError`, and so does a
    list with no usable row; a list's bad rows among good ones go to ``rejected``."""
    from frbtriage.io.candidates import read_candidates
    from frbtriage.io.fetch_h5 import conform_images, read_fetch_h5

    out = RankInputs()
    for path in paths:
        if Path(path).suffix.lower() in _H5_SUFFIXES:
            cand, ft, dmt, attrs = read_fetch_h5(path)
            ft, dmt = conform_images(path, ft, dmt, IMAGE_SHAPE)
            out.h5.append((len(out), H5Candidate(cand, ft, dmt, os.fspath(path), attrs)))
        else:
            for c in read_candidates(path, data_file=data_file, rejected=out.rejected):
                out.listed.append((len(out), c))
    return out


@dataclass(frozen=True)
class RankedRow:
    """One input candidate, its score (None when it could not be prepared) and its
    ``dispersion`` ``(index, err, delay_s)`` (None when not measured,
    :mod:`frbtriage.dispersion`)."""

    candidate: Candidate
    score: db.ScoreRow | None
    dispersion: tuple[float, float, float] | None = None

    @property
    def p_checked(self) -> float | None:
        """The score's p_astro after the dispersion-law check
        (:func:`frbtriage.dispersion.checked_p_astro`); None when unscored."""
        if self.score is None:
            return None
        return checked_p_astro(self.score.p_astro, *(self.dispersion or (None,) * 3))

    @property
    def vetoed(self) -> bool:
        """True when the dispersion-law check lowered the score."""
        return self.score is not None and self.p_checked < self.score.p_astro


@dataclass
class RankResult:
    """What :func:`rank_candidates` found: ``rows`` by :attr:`RankedRow.p_checked` (p_astro
    after the dispersion-law check), best first, then the unscored ones in input order; the
    ``model_version`` that scored them; ``unprepared`` listed candidates whose images could
    not be made (they are among the unscored); ``rejected`` the lists' bad rows (not among
    the rows)."""

    rows: list[RankedRow]
    model_version: str
    unprepared: int = 0
    rejected: list[InputError] = field(default_factory=list)

    @property
    def n_scored(self) -> int:
        """Rows with a score."""
        return sum(1 for r in self.rows if r.score is not None)


def rank_candidates(inputs: Sequence[str | os.PathLike[str]], model: LoadedModel,
                    options: RankOptions | None = None) -> RankResult:
    """Prepare, score and rank the candidates of ``inputs`` (lists and/or FETCH ``.h5``
    files, see :func:`read_rank_inputs`) with ``model``.

    Candidates already stored in ``options.workspace`` are not prepared again, and scores
    that ``model``'s version already gave are reused. Raises :class:`InputError` for bad
    options, unreadable inputs, no candidates at all, or (lists only) when no candidate's
    data file can be read or none can be prepared; nothing is stored in those cases.
    """
    from frbtriage.model.predict import score_workspace
    from frbtriage.prepare import check_data_files, prepare_candidates

    opts = options or RankOptions()
    opts.check()
    given = read_rank_inputs(inputs, opts.data_file)
    if not given:
        raise InputError(inputs[0] if inputs else None, "no candidates in the input")
    if given.listed and not given.h5:
        check_data_files([c for _, c in given.listed])

    keys: dict[int, db.CandidateKey] = {}
    unprepared = 0
    with contextlib.ExitStack() as stack:
        if opts.workspace is not None:
            ws = stack.enter_context(Workspace.open_or_create(opts.workspace))
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="frbtriage-rank-"))
            ws = stack.enter_context(Workspace.create(Path(tmp) / "ws"))
        if given.listed:
            summary = prepare_candidates(ws, [c for _, c in given.listed])
            if not given.h5 and summary.prepared == 0:
                raise summary.nothing_prepared()
            unprepared = len(summary.skipped)
        for i, c in given.listed:
            keys[i] = db.candidate_key(c.file, c.tcand, c.dm, c.width)
        if given.h5:
            news = [h.new_candidate() for _, h in given.h5]
            for (i, _), new in zip(given.h5, news, strict=True):
                keys[i] = new.key()
            ws.append(news, np.stack([h.ft for _, h in given.h5]),
                      np.stack([h.dmt for _, h in given.h5]))
        id_of = ws.ids_of(keys.values())
        wanted = sorted(set(id_of.values()))
        score_workspace(ws, model, ids=wanted, batch_size=opts.batch_size, device=opts.device,
                        progress=opts.progress)
        with ws.session() as s:
            scores = {r.candidate_id: r for r in db.read_scores(s, model.version, wanted)}
        checks = {r.id: (r.dispersion_index, r.dispersion_err, r.dispersion_delay_s)
                  for r in ws.candidates(wanted) if r.dispersion_index is not None}

    entries = sorted(given.listed + [(i, h.candidate) for i, h in given.h5],
                     key=lambda e: e[0])
    rows = [RankedRow(c, scores.get(id_of.get(keys[i], -1)), checks.get(id_of.get(keys[i], -1)))
            for i, c in entries]
    return RankResult(rows=best_first(rows), model_version=model.version,
                      unprepared=unprepared, rejected=given.rejected)


def best_first(rows: Sequence[RankedRow]) -> list[RankedRow]:
    """``rows`` (in input order) ranked: by :attr:`RankedRow.p_checked`, highest first (ties
    in input order), then the unscored ones in input order."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i].score is None,
                                                    -(rows[i].p_checked or 0.0), i))
    return [rows[i] for i in order]


def _derived(c: Candidate, column: str) -> str:
    """The cell of ``column`` for a candidate that has no list text for it (a FETCH ``.h5``,
    or a Heimdall row's ``stime``, ``width``, ``file``): floats in full precision."""
    if column == "file":
        return c.file
    if column == "stime":
        return float_text(c.tcand)
    if column == "width":
        return log2_text(int(c.width))
    if column in ("snr", "dm"):
        return float_text(getattr(c, column))
    if column == "label":
        return "" if c.label is None else str(int(c.label))
    return ""  # chan_mask_path, num_files and Heimdall's columns: not known


def _cell(c: Candidate, column: str) -> str:
    """The list's own text of ``column`` when the candidate came from a list with it, else
    :func:`_derived`."""
    text = c.text(column)
    return text if text is not None else _derived(c, column)


def check_csv_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path`; :class:`InputError` if it is a folder (check before the
    work, so a bad output name costs nothing)."""
    out = Path(path)
    if out.is_dir():
        raise InputError(out, "is a folder; give the output CSV file name")
    return out


def write_ranked_csv(path: str | os.PathLike[str], result: RankResult) -> Path:
    """Write ``result`` as the ranked CSV, safely replacing ``path``; returns ``path``.

    Columns: :data:`LIST_COLUMNS` (your/FETCH), then :data:`HEIMDALL_ONLY` when a Heimdall
    row is among them, then :data:`SCORE_COLUMNS` and :data:`CHECK_COLUMNS` (the index, its
    error and ``cold_plasma`` empty where the index was not measured; ``p_checked`` the
    p_astro the rows are ranked by, at most ``VETO_CAP`` where ``cold_plasma`` is ``no``).
    Each input column holds the list's own text exactly as read (a DM of ``1220.073`` stays
    ``1220.073``, a relative ``file`` stays relative), so the output joins back to the
    input; values the input did not hold as text (FETCH ``.h5`` inputs, a Heimdall row's
    ``file``, ``stime`` and log2 ``width``) are written in full float precision (``repr``),
    ``label`` 0/1 or empty. Scores have 6 decimals; the score cells of an unscored row are
    empty.
    """
    out = check_csv_path(path)
    heimdall = any(r.candidate.text("sample") is not None for r in result.rows)
    listed = LIST_COLUMNS + (HEIMDALL_ONLY if heimdall else ())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(listed + SCORE_COLUMNS + CHECK_COLUMNS)
    for row in result.rows:
        c, sc = row.candidate, row.score
        cells = [_cell(c, column) for column in listed]
        cells += ([f"{sc.p_astro:.6f}", f"{sc.p_std:.6f}", f"{sc.bald:.6f}", result.model_version]
                  if sc is not None else ["", "", "", ""])
        d = row.dispersion
        cells += ([f"{d[0]:.4f}", f"{d[1]:.4f}", "yes" if cold_plasma(*d) else "no"] if d
                  else ["", "", ""])
        cells.append(f"{row.p_checked:.6f}" if sc is not None else "")
        w.writerow(cells)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_text(out, buf.getvalue())
