"""The nightly job's per-file work, as run on a Dask worker (or in the calling process).

:func:`process_file` hashes one data file, gets its candidates (the list beside it, else the
search) and makes their ``ft`` / ``dmt`` images. It only *reads*: the data file from a path
every worker can see, and nothing of the workspace. The images and records go back to the
calling process, the workspace's one writer (:mod:`frbtriage.nightly.job`).

A candidate list *beside* a data file ``X.fil`` is ``X.csv`` (your/FETCH, or a CHIME L1
event list) or ``X.cand`` (Heimdall), in that order; it describes ``X``: every row is taken
as a candidate of ``X`` (a FETCH CSV's ``file`` column, an L1 list's ``chunks`` column, is
not consulted, so renaming both keeps them together).

A *CHIME chunk folder* (a folder holding ``*.msgpack`` chunks of one beam) is a data source
like a file: its list lies beside it (``beam0017/`` -> ``beam0017.csv``), its size is its
chunks' total, its modification time the latest of the folder's and its chunks', and its
content hash is over each chunk's name and bytes in name order, so adding a chunk makes it
new again. Chunks lying loose in the inbox itself are not picked up.

On a Dask worker, a file's Numba kernels use :func:`task_threads` threads (the worker's
Numba threads shared among the tasks it runs at once); :func:`warm_up` loads the code before
the first file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from frbtriage.db import CandidateKey, candidate_key
from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate
from frbtriage.io.chime_reader import CHUNK_SUFFIX
from frbtriage.io.filterbank import PSRFITS_SUFFIXES, SIGPROC_SUFFIXES
from frbtriage.search import SearchConfig
from frbtriage.workspace import IMAGE_SHAPE, NewCandidate

#: Suffixes of the data files the job picks up from an inbox.
DATA_SUFFIXES = SIGPROC_SUFFIXES + PSRFITS_SUFFIXES
#: Suffixes of a candidate list beside a data file, in the order they are looked for.
LIST_SUFFIXES = (".csv", ".cand")
_HASH_BLOCK = 1 << 22  # 4 MiB


def data_files(inbox: str | os.PathLike[str]) -> list[Path]:
    """The data files and CHIME chunk folders in the folder ``inbox`` and its subfolders
    (absolute, sorted); :class:`InputError` when ``inbox`` is not a folder."""
    root = Path(inbox).expanduser().resolve()
    if not root.is_dir():
        raise InputError(root, "the inbox is not a folder")
    found = set()
    for p in root.rglob("*"):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.suffix.lower() in DATA_SUFFIXES and p.is_file():
            found.add(p)
        elif p.suffix.lower() == CHUNK_SUFFIX and p.is_file():
            found.add(p.parent)
    found.discard(root)  # a beam's chunks go in a folder of their own, not loose in the inbox
    return sorted(found)


def _chunks_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() == CHUNK_SUFFIX and p.is_file())


def source_stat(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(size in bytes, modification time ns)`` of a data file or chunk folder (see the
    module); :class:`OSError` when it cannot be read."""
    p = Path(path)
    if not p.is_dir():
        st = os.stat(p)
        return st.st_size, st.st_mtime_ns
    size, mtime = 0, os.stat(p).st_mtime_ns
    for c in _chunks_of(p):
        st = c.stat()
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
    return size, mtime


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's content, read in 4 MiB blocks; of a chunk folder, over each
    chunk's name, a NUL and its bytes, in name order."""
    h = hashlib.sha256()
    p = Path(path)
    for f in _chunks_of(p) if p.is_dir() else [p]:
        if p.is_dir():
            h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                h.update(block)
    return h.hexdigest()


def candidate_list(path: Path) -> Path | None:
    """The candidate list beside data file or chunk folder ``path`` (see the module), or
    None."""
    for suffix in LIST_SUFFIXES:
        lst = path.parent / (path.name + suffix) if path.is_dir() else path.with_suffix(suffix)
        if lst.is_file():
            return lst
    return None


@dataclass(frozen=True)
class FileTask:
    """One data file for :func:`process_file`: absolute ``path``, its ``size`` (bytes) and
    ``mtime_ns`` when listed, the content hash if the ledger's stat cache knows it
    (``sha256``, else None: hash it), the hashes already ``known`` (finished: skip), the
    duplicate keys already ``stored`` for this path (a rerun after a kill skips their
    images), and the ``search`` settings for a file without a candidate list."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    known: frozenset[str]
    stored: frozenset[CandidateKey]
    search: SearchConfig


@dataclass
class FileResult:
    """What :func:`process_file` made of one file.

    ``status``: ``"new"`` (candidates and images below), ``"known"`` (the content was
    finished before, under any name) or ``"failed"`` (``error`` says why). ``source``:
    ``"search"`` or the candidate list's path; ``found`` candidates listed or found;
    ``already`` of them stored before; ``candidates`` the rest that could be imaged, with
    ``ft`` and ``dmt`` ``(len(candidates), 256, 256)`` float32; ``skipped`` why the others
    could not; ``seconds`` wall time per step (``hash``, ``candidates``, ``images``) and
    ``cpu``, the process's CPU seconds over the file (all its threads: on a worker that runs
    one file at a time, the file's; far below the wall time, the cores were busy elsewhere);
    ``worker`` host and pid that did it, ``threads`` the Numba threads its kernels used.
    """

    path: str
    size: int
    mtime_ns: int
    sha256: str = ""
    status: str = "new"
    source: str = ""
    found: int = 0
    already: int = 0
    candidates: list[NewCandidate] = field(default_factory=list)
    ft: NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, *IMAGE_SHAPE), np.float32))
    dmt: NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, *IMAGE_SHAPE), np.float32))
    skipped: list[str] = field(default_factory=list)
    error: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    worker: str = ""
    threads: int = 0


def process_threads() -> int:
    """The Numba threads this process may use: ``NUMBA_NUM_THREADS`` (the machine's cores
    unless set), at most the cores it may run on (a SLURM job's or ``taskset``'s share).

    The environment variable is read as it is now, before Numba's own copy of it: a Dask
    worker process may come from a fork server whose Numba read its configuration before the
    nanny set the worker's environment (:func:`frbtriage.nightly.cluster.local_worker_env`),
    and ``numba.set_num_threads`` accepts any number up to Numba's."""
    import numba

    n = int(numba.config.NUMBA_NUM_THREADS)
    try:
        n = min(n, int(os.environ.get("NUMBA_NUM_THREADS", n)))
    except ValueError:  # not a number: Numba's own reading stands
        pass
    try:
        return max(1, min(n, len(os.sched_getaffinity(0))))
    except AttributeError:  # no sched_getaffinity (macOS)
        return max(1, n)


def task_threads() -> int | None:
    """On a Dask worker: the Numba threads for one of its tasks, the worker's
    :func:`process_threads` shared among the ``nthreads`` tasks it runs at once (at least
    1); None outside a Dask worker."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # no Dask, or not in a worker
        return None
    return max(1, process_threads() // max(1, int(worker.state.nthreads)))


def _use_task_threads() -> int:
    """Let the Numba kernels called from this thread use :func:`task_threads` threads (on a
    Dask worker; elsewhere as set); the number they will use. Numba's setting is per thread,
    so this runs in the thread that calls the kernels."""
    import numba

    n = task_threads()
    if n is not None:
        numba.set_num_threads(n)
    return int(numba.get_num_threads())


@dataclass(frozen=True)
class WarmUp:
    """What :func:`warm_up` did: on ``worker`` (host:pid), in ``seconds``, with ``threads``
    Numba threads; ``error`` why it could not finish (empty: it did)."""

    worker: str
    seconds: float
    threads: int
    error: str = ""


_warmed = False  # this process has loaded the per-file code (warm_up finished once)


def warm_up() -> WarmUp:
    """Import the per-file code and load its Numba kernels (compiled, or from Numba's cache)
    by searching and imaging a tiny simulated file (64 channels x 3 s) in a temporary
    folder, in this thread with the threads a file gets, so that the first real file pays
    none of it; once per process (a second call only sets the threads). A file system
    problem is noted in ``error``, not raised (the files then pay the loading themselves)."""
    global _warmed
    import tempfile

    from frbtriage.io.candidates import read_candidates
    from frbtriage.search import search_file
    from frbtriage.simulate import simulate_observation

    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    threads = _use_task_threads()
    error = ""
    if _warmed:
        return WarmUp(worker, time.perf_counter() - t0, threads)
    try:
        with tempfile.TemporaryDirectory(prefix="frbtriage-warm-") as tmp:
            sim = simulate_observation(Path(tmp) / "sim", minutes=0.05, nchan=64, seed=0,
                                       n_bursts=1, dm_range=(20, 40))
            search_file(sim.fil_path, config=SearchConfig(dm_max=50.0))
            fil = str(sim.fil_path)
            _images(fil, read_candidates(sim.candidates_path),
                    FileResult(path=fil, size=0, mtime_ns=0))
        _warmed = True
    except (OSError, InputError) as err:
        error = str(err)
    return WarmUp(worker, time.perf_counter() - t0, threads, error)


def process_file(task: FileTask) -> FileResult:
    """Hash, find candidates and make images for one data file (see the module). Bad input
    (an unreadable, truncated or malformed file or list) gives ``status="failed"`` with the
    reason; it never raises for it."""
    res = FileResult(path=task.path, size=task.size, mtime_ns=task.mtime_ns,
                     worker=f"{socket.gethostname()}:{os.getpid()}",
                     threads=_use_task_threads())
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        res.sha256 = task.sha256 or file_sha256(task.path)
    except OSError as err:
        return _failed(res, f"cannot read ({err.strerror or err})")
    res.seconds["hash"] = time.perf_counter() - t0
    if res.sha256 in task.known:
        res.status = "known"
        return res
    try:
        cands = _candidates(Path(task.path), task.search, res)
        res.seconds["candidates"] = time.perf_counter() - t0 - res.seconds["hash"]
        fresh = [c for c in cands if candidate_key(c.file, c.tcand, c.dm, c.width)
                 not in task.stored]
        res.already = len(cands) - len(fresh)
        t1 = time.perf_counter()
        _images(task.path, fresh, res)
        res.seconds["images"] = time.perf_counter() - t1
        res.seconds["cpu"] = time.process_time() - cpu0
    except InputError as err:
        return _failed(res, err.problem)
    try:
        now = source_stat(task.path)
    except OSError as err:
        return _failed(res, f"vanished while being read ({err.strerror or err})")
    if now != (task.size, task.mtime_ns):
        return _failed(res, "changed while being read (still being copied?); the next run "
                            "takes it")
    return res


def _failed(res: FileResult, why: str) -> FileResult:
    res.status = "failed"
    res.error = why
    return res


def _candidates(path: Path, search: SearchConfig, res: FileResult) -> list[Candidate]:
    """The file's candidates (list beside it, else the search), noting ``source`` and
    ``found`` in ``res``."""
    from frbtriage.io.candidates import read_candidates
    from frbtriage.search import search_file

    lst = candidate_list(path)
    if lst is not None:
        listed = [dataclasses.replace(c, file=str(path))
                  for c in read_candidates(lst, data_file=path)]
        res.source = str(lst)
    else:
        listed = [c.to_candidate() for c in search_file(path, config=search)]
        res.source = "search"
    res.found = len(listed)
    return listed


class _Collector:
    """An :class:`frbtriage.prepare.ImageSink` that keeps the images for the calling
    process (a worker writes nothing)."""

    def __init__(self, res: FileResult) -> None:
        self.res = res
        #: why the file itself could not be used (set when a candidate is skipped before the
        #: file was opened), else None
        self.file_problem: str | None = None
        self.opened_ok = False
        self.fts: list[NDArray[np.float32]] = []
        self.dmts: list[NDArray[np.float32]] = []

    def opened(self, path: str) -> None:
        self.opened_ok = True

    def prepared(self, record: NewCandidate, ft: NDArray[np.float32],
                 dmt: NDArray[np.float32]) -> None:
        self.res.candidates.append(record)
        self.fts.append(ft)
        self.dmts.append(dmt)

    def skipped(self, path: str, c: Candidate, reason: str) -> None:
        if not self.opened_ok:
            self.file_problem = self.file_problem or reason
        self.res.skipped.append(f"tcand={c.tcand:.6f} s dm={c.dm:g} width={c.width}: {reason}")


def _images(path: str, cands: list[Candidate], res: FileResult) -> None:
    """Make the images of ``cands`` into ``res`` with :func:`frbtriage.prepare.prepare_file`
    (those that cannot be prepared go to ``res.skipped``); :class:`InputError` when the
    file cannot be opened."""
    from frbtriage.prepare import Scratch, prepare_file

    if not cands:
        return
    sink = _Collector(res)
    prepare_file(sink, path, cands, "file", None, Scratch(), "list")
    if sink.file_problem is not None:
        raise InputError(path, sink.file_problem)
    if sink.fts:
        res.ft, res.dmt = np.stack(sink.fts), np.stack(sink.dmts)
