"""The one safe way to replace a file: write a temporary file beside it, then rename.

Protocol of :func:`replacing` (used by :func:`write_bytes`, :func:`write_text` and every
writer that needs a file name, such as h5py or matplotlib):

1. create a temporary file with a unique name (``tempfile.mkstemp``) in the target's
   folder, so the rename cannot cross file systems: ``.{name}.{random}.tmp``, with the
   permissions a plain ``open(path, "w")`` would give (``0o666`` less the umask);
2. the caller writes it completely (by name) and closes it;
3. flush it to disk (``fsync``), rename it over the target (``os.replace``, atomic on
   POSIX), then ``fsync`` the folder so the rename itself survives a power cut.

Until step 3 the old file is untouched. If the writer raises, the temporary file is
removed and the target is neither created nor changed. If the process is killed (SIGKILL,
power cut) before the rename, the target is likewise intact or absent; only the hidden
``.{name}.*.tmp`` file may remain, which nothing reads.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replacing", "write_bytes", "write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_path(path: str | os.PathLike[str]) -> None:
    """``fsync`` a file or a folder by name (Linux accepts a read-only descriptor)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; on a clean exit it replaces ``path``.

    The temporary file exists (empty) when the block starts; write it by name and close it
    inside the block. Its suffix is ``.tmp``, so writers that guess the format from the
    name (``matplotlib``'s ``savefig``) must be told the format. The folder must exist.
    On an exception inside the block the temporary file is removed and ``path`` is left as
    it was; see the module docstring for the full protocol.
    """
    target = Path(path)
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; match a plain open()
        finally:
            os.close(fd)
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_path(folder)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` safely (:func:`replacing`); returns ``path``."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` safely (:func:`replacing`), line endings written as
    given (no newline translation); returns ``path``."""
    return write_bytes(path, text.encode(encoding))
