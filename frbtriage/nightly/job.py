"""The nightly job: new data files in, candidates scored and queued, model retrained when the
votes justify it, a report out (:func:`run_nightly`).

Stages, each safe to repeat, so a run killed at any point and started again finishes the work:

1. **ingest**: every data file of the inbox whose content hash the ledger
   (:mod:`frbtriage.nightly.ledger`) does not know is hashed, searched (or its candidate list
   beside it read) and imaged on the executor's workers (:mod:`frbtriage.nightly.work`,
   :mod:`frbtriage.nightly.cluster`); as each file's result comes back, *this* process
   appends its candidates to the workspace (atomic batches, duplicates skipped) and then
   records the file in the ledger. A file that cannot be read is reported and skipped.
2. **score**: every candidate the live model has not scored yet
   (:func:`frbtriage.model.predict.score_workspace`, committed in batches).
3. **queue**: the volunteer queue topped up from the live model's scores
   (:func:`frbtriage.queue.fill_queue`, one transaction).
4. **aggregate**: volunteers' votes to labels (:func:`frbtriage.crowd.consensus.aggregate`,
   same votes give the same labels).
5. **retrain**: with ``--retrain auto`` when at least ``[nightly] retrain_min_new_labels``
   aggregated labels exist beyond those the last retrained model saw (its registry entry's
   ``training.counts.voted``, so the count survives a kill); the gate decides promotion
   (:func:`frbtriage.model.retrain.retrain`: the new model is registered last). A promoted
   model scores everything and refreshes the queue (stages 2-3 again).
6. **report**: ``WS/reports/YYYY-MM-DD/`` (:mod:`frbtriage.nightly.report`), then the run is
   added to the ledger.

Only this process writes the workspace (through :class:`~frbtriage.workspace.Workspace`,
the registry and the crowd API); one run at a time holds the workspace's nightly lock
(:mod:`frbtriage.nightly.lock`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from frbtriage.errors import InputError

if TYPE_CHECKING:
    from frbtriage.crowd.consensus import Consensus
    from frbtriage.crowd.votes import Vote
    from frbtriage.model.retrain import RetrainResult
    from frbtriage.nightly.cluster import Executor
    from frbtriage.nightly.config import NightlyConfig
    from frbtriage.nightly.ledger import Ledger
    from frbtriage.nightly.work import FileResult, FileTask, WarmUp
    from frbtriage.workspace import Workspace

log = logging.getLogger(__name__)

RETRAIN_MODES = ("auto", "never", "always")
#: Exit status of a run that finished but skipped some files.
EXIT_SKIPPED = 3


@dataclass(frozen=True)
class NightlyOptions:
    """How to run (the settings of *what* to do are the workspace's :class:`NightlyConfig`):
    ``workers`` Dask worker processes on this machine (0: no Dask, all in this process),
    ``dask_address`` a Dask scheduler to use instead (``tcp://host:8786``), ``retrain``
    one of :data:`RETRAIN_MODES`, ``device`` torch device for scoring and retraining (None:
    CUDA when available)."""

    workers: int = 1
    dask_address: str | None = None
    retrain: str = "auto"
    device: str | None = None

    def check(self) -> None:
        """Raise :class:`InputError` for an impossible option."""
        if self.workers < 0:
            raise InputError(None, f"--workers must be >= 0, got {self.workers}")
        if self.retrain not in RETRAIN_MODES:
            raise InputError(None, f"--retrain must be one of {', '.join(RETRAIN_MODES)}, "
                                   f"got {self.retrain!r}")


@dataclass(frozen=True)
class FileOutcome:
    """One data file of the run. ``status``: ``"processed"`` (its candidates are stored),
    ``"known"`` (same content finished before, under this or another name) or ``"failed"``
    (``error`` says why; retried next run). ``found`` candidates listed or found, ``added``
    new rows (``ids``), ``already`` stored before, ``skipped`` candidates that could not be
    imaged and why; ``seconds`` per step on the worker; ``worker`` host:pid; ``threads``
    the Numba threads its kernels used there."""

    path: str
    status: str
    sha256: str = ""
    source: str = ""
    found: int = 0
    added: int = 0
    already: int = 0
    ids: tuple[int, ...] = ()
    skipped: tuple[str, ...] = ()
    error: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    worker: str = ""
    threads: int = 0


@dataclass(frozen=True)
class VoteActivity:
    """Volunteers' work since the previous run began (``since``; None: ever): ``votes``,
    distinct ``volunteers`` and ``candidates``; ``agreement`` mean share of decisive votes on
    the majority side over those candidates with >= 2 decisive votes (None: none);
    ``reliability`` mean Dawid-Skene balanced accuracy of those volunteers (None: no
    aggregation); ``total_votes`` in the workspace."""

    since: dt.datetime | None
    votes: int
    volunteers: int
    candidates: int
    agreement: float | None
    reliability: float | None
    total_votes: int


@dataclass
class NightlyResult:
    """Everything a run did (the report is made from it). ``unchanged``: files the ledger
    knew by path, size and mtime (not read); ``scored`` candidates newly scored (all
    models); ``queue`` the queue's state in words; ``new_labels`` aggregated labels beyond
    those of the last retrained model; ``retrain`` its result (None: not run,
    ``retrain_note`` says why); ``timings`` seconds per stage: ``start`` the executor
    started and warmed up, ``ingest`` the files from the first submitted to the last
    stored (``store`` of it: this process appending), ``stop`` the executor shut down,
    ``worker_*`` summed over files on the workers; ``warm_up`` what each worker's warm-up
    did (:class:`frbtriage.nightly.work.WarmUp`; empty when there were no files)."""

    workspace: Path
    inbox: Path
    started: dt.datetime
    executor: str = ""
    files: list[FileOutcome] = field(default_factory=list)
    unchanged: int = 0
    model_version: str = ""
    scored: int = 0
    queue: str = ""
    consensus: Consensus | None = None
    activity: VoteActivity | None = None
    new_labels: int = 0
    retrain: RetrainResult | None = None
    retrain_note: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    warm_up: list[WarmUp] = field(default_factory=list)
    finished: dt.datetime | None = None
    report_dir: Path | None = None

    def with_status(self, status: str) -> list[FileOutcome]:
        """The files of this run with ``status``."""
        return [f for f in self.files if f.status == status]

    @property
    def added_ids(self) -> list[int]:
        """Ids of the candidates this run added, in file order."""
        return [i for f in self.files for i in f.ids]

    @property
    def exit_code(self) -> int:
        """0 when every file was processed, :data:`EXIT_SKIPPED` when some failed."""
        return EXIT_SKIPPED if self.with_status("failed") else 0


class NightlyProgress(Protocol):
    """Hooks of :func:`run_nightly` (any object with these methods; the verb prints)."""

    def files_listed(self, total: int, todo: int, executor: str) -> None:
        """The inbox holds ``total`` data files, ``todo`` of them go to ``executor``."""

    def file_done(self, outcome: FileOutcome) -> None:
        """A file's result is stored (or it failed)."""

    def stage(self, name: str) -> None:
        """A later stage starts: ``score``, ``queue``, ``aggregate``, ``retrain``,
        ``report``."""


class _Quiet:
    """Reports nothing."""

    def files_listed(self, total: int, todo: int, executor: str) -> None:
        """Nothing."""

    def file_done(self, outcome: FileOutcome) -> None:
        """Nothing."""

    def stage(self, name: str) -> None:
        """Nothing."""


class _Clock:
    """Wall seconds per named stage, into ``timings``."""

    def __init__(self, timings: dict[str, float], hooks: NightlyProgress) -> None:
        self.timings = timings
        self.hooks = hooks

    @contextlib.contextmanager
    def __call__(self, name: str, announce: bool = True) -> Iterator[None]:
        """Time the block as ``name`` (added up over calls); ``announce``: tell the hooks
        that stage ``name`` starts."""
        if announce:
            self.hooks.stage(name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0


def run_nightly(workspace: str | os.PathLike[str], inbox: str | os.PathLike[str],
                options: NightlyOptions | None = None,
                progress: NightlyProgress | None = None) -> NightlyResult:
    """Run the nightly job on ``workspace`` (created if missing) with the data files of
    ``inbox`` (see the module); returns what it did, the report already written.

    Raises :class:`~frbtriage.nightly.lock.NightlyBusy` when another run holds the
    workspace, :class:`InputError` for a bad inbox, workspace or ``[nightly]`` settings.
    """
    from frbtriage import db
    from frbtriage.nightly.config import NightlyConfig
    from frbtriage.nightly.ledger import Ledger
    from frbtriage.nightly.lock import run_lock
    from frbtriage.nightly.report import write_report
    from frbtriage.nightly.work import data_files
    from frbtriage.workspace import Workspace

    options = options or NightlyOptions()
    options.check()
    hooks = progress or _Quiet()
    with run_lock(workspace), Workspace.open_or_create(workspace) as ws:
        cfg = NightlyConfig.of_workspace(ws.path)
        ledger = Ledger.load(ws)
        files = data_files(inbox)
        result = NightlyResult(workspace=ws.path, inbox=Path(inbox).resolve(),
                               started=db.utcnow())
        clock = _Clock(result.timings, hooks)
        _ingest(ws, ledger, files, cfg, options, result, clock)
        with clock("score"):
            _score(ws, options, result)
        with clock("queue"):
            _queue(ws, cfg, result)
        with clock("aggregate"):
            _aggregate(ws, ledger, result)
        with clock("retrain"):
            _retrain(ws, cfg, options, result)
        with clock("report"):
            result.finished = db.utcnow()
            result.report_dir = write_report(ws, result, cfg)
        ledger.finish_run(result.started, result.finished, result.exit_code)
    return result


def _ingest(ws: Workspace, ledger: Ledger, files: list[Path], cfg: NightlyConfig,
            options: NightlyOptions, result: NightlyResult, clock: _Clock) -> None:
    """Stage 1 (see the module): the files the ledger does not know, through the executor."""
    from frbtriage.nightly.cluster import executor
    from frbtriage.nightly.work import FileTask, WarmUp, source_stat, warm_up

    known = ledger.known()
    tasks = []
    for p in files:
        size, mtime_ns = source_stat(p)
        sha = ledger.cached_hash(str(p), size, mtime_ns)
        if sha in known:
            result.unchanged += 1
            continue
        tasks.append(FileTask(path=str(p), size=size, mtime_ns=mtime_ns,
                              sha256=sha, known=known,
                              stored=frozenset(ws.known_keys([str(p)])),
                              search=cfg.search()))
    with contextlib.ExitStack() as stack:
        with clock("start", announce=False):
            ex = stack.enter_context(executor(options.workers, options.dask_address))
            if tasks:
                result.warm_up = [w for w in ex.warm(warm_up) if isinstance(w, WarmUp)]
        result.executor = ex.description
        clock.hooks.files_listed(len(files), len(tasks), ex.description)
        with clock("ingest"):
            _store_all(ws, ledger, ex, tasks, cfg.batch_size, result, clock)
        with clock("stop", announce=False):
            stack.close()
    for f in result.files:
        for step, s in f.seconds.items():
            key = f"worker_{step}"
            result.timings[key] = result.timings.get(key, 0.0) + s


def _store_all(ws: Workspace, ledger: Ledger, ex: Executor, tasks: list[FileTask],
               batch_size: int, result: NightlyResult, clock: _Clock) -> None:
    """Store each file's result as it comes back (this process is the only writer; with
    Dask the workers go on with the next files meanwhile); the time it takes is ``store``."""
    from frbtriage.nightly.work import process_file

    for task, res in ex.run(process_file, tasks):
        if isinstance(res, BaseException):
            log.error("%s: %s", task.path, res, exc_info=res)
            outcome = FileOutcome(task.path, "failed", error=f"{type(res).__name__}: {res}")
        else:
            with clock("store", announce=False):
                outcome = _store(ws, ledger, res, batch_size)
        if outcome.status == "failed":
            log.warning("%s: skipped: %s", outcome.path, outcome.error)
        result.files.append(outcome)
        clock.hooks.file_done(outcome)


def _store(ws: Workspace, ledger: Ledger, res: FileResult, batch_size: int) -> FileOutcome:
    """Append one file's candidates in atomic batches, then record it in the ledger (the
    crash protocol of :mod:`frbtriage.nightly.ledger`)."""
    from frbtriage.nightly.ledger import LedgerEntry

    base = FileOutcome(res.path, res.status, sha256=res.sha256, source=res.source,
                       found=res.found, already=res.already, skipped=tuple(res.skipped),
                       error=res.error, seconds=dict(res.seconds), worker=res.worker,
                       threads=res.threads)
    if res.status == "failed":
        return base
    if res.status == "known" or res.sha256 in ledger.known():  # the same content twice
        ledger.record(None, res.path, res.size, res.mtime_ns, res.sha256)
        return dataclasses.replace(base, status="known", already=0)
    ids: list[int] = []
    for lo in range(0, len(res.candidates), batch_size):
        hi = lo + batch_size
        ids += ws.append(res.candidates[lo:hi], res.ft[lo:hi], res.dmt[lo:hi])
    already = res.already + len(res.candidates) - len(ids)
    ledger.record(LedgerEntry(sha256=res.sha256, path=res.path, size=res.size,
                              source=res.source, found=res.found, added=len(ids),
                              processed=dt.datetime.now(dt.UTC)),
                  res.path, res.size, res.mtime_ns, res.sha256)
    return dataclasses.replace(base, status="processed", added=len(ids), already=already,
                               ids=tuple(ids))


def _score(ws: Workspace, options: NightlyOptions, result: NightlyResult) -> None:
    """Stage 2: what the live model has not scored yet."""
    import sys

    from frbtriage.model.predict import score_workspace
    from frbtriage.model.registry import live_model

    model = live_model(ws)
    result.model_version = model.version
    result.scored += score_workspace(ws, model, device=options.device,
                                     progress=sys.stderr.isatty())


def _queue(ws: Workspace, cfg: NightlyConfig, result: NightlyResult) -> None:
    """Stage 3: top the volunteer queue up from the live model's scores."""
    from frbtriage.queue import QueueConfig, fill_queue

    try:
        result.queue = str(fill_queue(ws, QueueConfig(size=cfg.queue_size,
                                                      strategy=cfg.queue_strategy)))
    except InputError as err:  # nothing scored yet: an empty workspace
        result.queue = f"not filled: {err.problem}"


def _aggregate(ws: Workspace, ledger: Ledger, result: NightlyResult) -> None:
    """Stage 4: votes to labels, and the volunteers' activity since the last run."""
    from frbtriage.crowd.consensus import aggregate
    from frbtriage.crowd.votes import votes_of

    votes = votes_of(ws)
    result.consensus = aggregate(ws) if votes else None
    result.activity = vote_activity(votes, result.consensus, ledger.last_run_started())


def vote_activity(votes: list[Vote], consensus: Consensus | None,
                  since: dt.datetime | None) -> VoteActivity:
    """:class:`VoteActivity` of ``votes`` (all stored votes) made after ``since``, with the
    agreement and reliability that ``consensus`` (of all votes) gives them."""
    import numpy as np

    from frbtriage import db

    new = [v for v in votes if since is None or db.as_utc(v.created) > since]
    cands = {v.candidate_id for v in new}
    people = {v.volunteer_id for v in new}
    agreement = reliability = None
    if consensus is not None and new:
        items = consensus.majority
        pick = np.isin(items.items, list(cands)) & (items.n_decisive >= 2)
        agreement = float(items.agreement[pick].mean()) if pick.any() else None
        w = consensus.result.workers
        rel = w.reliability[np.isin(w.workers, list(people))]
        reliability = float(rel.mean()) if rel.size else None
    return VoteActivity(since=since, votes=len(new), volunteers=len(people),
                        candidates=len(cands), agreement=agreement, reliability=reliability,
                        total_votes=len(votes))


def labels_since_retrain(ws: Workspace, labelled: int) -> int:
    """Aggregated labels beyond those the last retrained model saw (its registry entry's
    ``training.counts.voted``; all ``labelled`` when no model was retrained yet)."""
    from frbtriage.model.registry import list_models

    retrained = [m for m in list_models(ws) if "counts" in m.training]
    seen = int(retrained[-1].training["counts"].get("voted", 0)) if retrained else 0
    return max(0, labelled - seen)


def _retrain(ws: Workspace, cfg: NightlyConfig, options: NightlyOptions,
             result: NightlyResult) -> None:
    """Stage 5: retrain behind the gate when asked or when enough new labels arrived; a
    promoted model then scores everything and refreshes the queue."""
    from frbtriage.model.retrain import RetrainConfig, retrain

    labelled = result.consensus.labelled if result.consensus is not None else 0
    result.new_labels = labels_since_retrain(ws, labelled)
    if options.retrain == "never":
        result.retrain_note = "not run (--retrain never)"
        return
    if options.retrain == "auto" and result.new_labels < cfg.retrain_min_new_labels:
        result.retrain_note = (f"not needed: {result.new_labels} new aggregated labels, "
                               f"retrain_min_new_labels = {cfg.retrain_min_new_labels}")
        return
    try:
        result.retrain = retrain(ws, RetrainConfig(epochs=cfg.retrain_epochs,
                                                   device=options.device))
    except InputError as err:
        result.retrain_note = f"not possible: {err.problem}"
        return
    result.retrain_note = str(result.retrain)
    if result.retrain.decision.promote:
        _score(ws, options, result)
        _queue(ws, cfg, result)
