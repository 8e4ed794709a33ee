"""Where the nightly job's per-file work runs: in this process, or on Dask workers.

:func:`executor` gives an object whose :meth:`~InProcess.run` calls a function on each task
and yields ``(task, result or exception)`` as each one finishes. With Dask
(``dask.distributed``) that is a ``LocalCluster`` of ``workers`` processes on this machine,
or the scheduler at ``address`` (e.g. ``tcp://head:8786``) of a real cluster; at most
``2 x workers`` tasks are in flight, so results never pile up in the workers' memory faster
than the calling process stores them. The workers only compute; every result comes back to
the calling process, which alone writes the workspace.

Threads: every file's Numba kernels (search, images) are parallel. So that workers do not
oversubscribe the cores (issue 11: 2 workers each running 2-thread kernels on 2 cores were
slower than one), a ``LocalCluster`` worker gets ``NUMBA_NUM_THREADS = max(1, N // workers)``
where ``N`` is this process's Numba threads (:func:`frbtriage.nightly.work.process_threads`),
and each task on any Dask worker shares its worker's Numba threads with the tasks the worker
runs at once (:func:`frbtriage.nightly.work.task_threads`).

Start-up: :meth:`DaskExecutor.warm` runs a warm-up on every worker (imports and the first,
cached, Numba load, :func:`frbtriage.nightly.work.warm_up`) before the files, so the job
times start-up and per-file work apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from frbtriage.errors import InputError

T = TypeVar("T")
R = TypeVar("R")
#: ``(task, fn(task))``, or the task with the exception ``fn`` raised.
Outcome = tuple[T, R | BaseException]


class Executor(Protocol):
    """Runs a function on tasks; what :func:`executor` returns."""

    #: Words for the report, e.g. ``"in this process"`` or ``"Dask, 2 workers at tcp://..."``.
    description: str

    def run(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """``(task, fn(task))`` (or the exception it raised) in the order they finish."""
        ...

    def warm(self, fn: Callable[[], object]) -> list[object]:
        """Call ``fn()`` once on every worker (here: once in this process), waiting for all;
        their results."""
        ...


class InProcess:
    """Runs each task in the calling process, one after another."""

    description = "in this process"

    def run(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """``(task, fn(task))`` (or the exception it raised), in task order."""
        for task in tasks:
            try:
                yield task, fn(task)
            except Exception as err:  # noqa: BLE001 - reported per task by the caller
                yield task, err

    def warm(self, fn: Callable[[], object]) -> list[object]:
        """``[fn()]``, called in this process."""
        return [fn()]


class DaskExecutor:
    """Runs tasks on the workers of a ``dask.distributed.Client``."""

    def __init__(self, client: object, description: str) -> None:
        self.client = client
        self.description = description

    def slots(self) -> int:
        """Number of worker threads the scheduler knows (at least 1)."""
        info = self.client.scheduler_info()  # type: ignore[attr-defined]
        return max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))

    def warm(self, fn: Callable[[], object]) -> list[object]:
        """``fn()`` on each worker known now, in a task pinned to it (so it runs in a worker
        thread, as the files will), all at once; their results."""
        info = self.client.scheduler_info()  # type: ignore[attr-defined]
        futs = [self.client.submit(fn, pure=False, workers=[addr],  # type: ignore[attr-defined]
                                   allow_other_workers=False)
                for addr in info["workers"]]
        return list(self.client.gather(futs))  # type: ignore[attr-defined]

    def run(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """``(task, fn(task))`` (or the exception it raised) as each finishes; at most
        ``2 x slots()`` tasks submitted at a time."""
        from dask.distributed import as_completed

        todo = iter(tasks)
        window = 2 * self.slots()
        of: dict[str, T] = {}

        def submit() -> object | None:
            task = next(todo, None)
            if task is None:
                return None
            fut = self.client.submit(fn, task, pure=False)  # type: ignore[attr-defined]
            of[fut.key] = task
            return fut

        first = [f for f in (submit() for _ in range(window)) if f is not None]
        running = as_completed(first)
        for fut in running:
            task = of.pop(fut.key)
            err = fut.exception()
            yield task, (err if err is not None else fut.result())
            fut.release()
            nxt = submit()
            if nxt is not None:
                running.add(nxt)


def local_worker_env(workers: int) -> dict[str, str]:
    """Environment of a ``LocalCluster`` worker process when ``workers`` of them share this
    machine: its Numba threads, ``max(1, N // workers)`` of this process's ``N``
    (:func:`frbtriage.nightly.work.process_threads`)."""
    from frbtriage.nightly.work import process_threads

    return {"NUMBA_NUM_THREADS": str(max(1, process_threads() // max(1, workers)))}


@contextlib.contextmanager
def executor(workers: int = 1, address: str | None = None) -> Iterator[Executor]:
    """An executor for the ``with`` block: Dask on the cluster at ``address`` when given,
    else a ``LocalCluster`` of ``workers`` single-threaded worker processes (their Numba
    threads: :func:`local_worker_env`), else (``workers == 0``) the calling process. The
    cluster is shut down at the end."""
    if address is None and workers == 0:
        yield InProcess()
        return
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    from dask.distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if address is not None:
            try:
                client = stack.enter_context(Client(address, timeout="30s"))
            except (OSError, TimeoutError, ValueError) as err:
                raise InputError(address, f"cannot reach the Dask scheduler ({err})") from err
            words = f"Dask cluster at {address}"
        else:
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, env=local_worker_env(workers)))
            client = stack.enter_context(Client(cluster))
            words = f"Dask LocalCluster, {workers} worker process(es)"
        ex = DaskExecutor(client, words)
        ex.description = f"{words} ({ex.slots()} threads)"
        yield ex
