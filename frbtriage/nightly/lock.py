"""One nightly run per workspace: an OS file lock on ``WS/.nightly.lock``.

``fcntl.flock`` (exclusive, non-blocking) on a file inside the workspace. The kernel drops
the lock when the holder's file is closed, which includes the process dying in any way
(SIGKILL, a crash, a power cut): a killed run never leaves a stale lock, so no one has to
remove a file before cron can start the next run. The holder writes its pid, host and start
time into the file only to make the refusal message useful; the lock is the ``flock``, not
the file's content. (``flock`` is advisory and per host on most network file systems: run
the job for one workspace from one host, as cron does.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from frbtriage.errors import InputError

LOCK_NAME = ".nightly.lock"


class NightlyBusy(InputError):
    """Another nightly run holds the workspace's lock (the CLI exits with
    :data:`EXIT_BUSY`)."""


#: Exit status of ``frbtriage nightly`` when another run holds the lock (sysexits' EX_TEMPFAIL:
#: "try again later").
EXIT_BUSY = 75


@contextlib.contextmanager
def run_lock(workspace: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the nightly lock of the workspace folder ``workspace`` (created if missing) for
    the ``with`` block; yields the lock file's path. Raises :class:`NightlyBusy` at once,
    naming the holder, when another run (any process, this one included) holds it."""
    folder = Path(workspace).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "unknown"
            raise NightlyBusy(folder, f"another nightly run holds the workspace lock "
                                      f"({holder}); this run exits without changing "
                                      "anything") from None
        note = (f"pid {os.getpid()} on {socket.gethostname()} since "
                f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
