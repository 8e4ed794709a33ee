"""Keep freed memory in the process, so that each candidate's fresh arrays do not page-fault.

glibc's ``malloc`` serves a large block (over its mmap threshold, 128 KiB at first) with a
fresh ``mmap`` and returns it to the kernel on ``free``. A 1024-channel candidate allocates
~5 MB of such blocks (its ``(256, nchan)`` delay table and offset table, the image
buffers), so every candidate touches ~1000 new pages, each a minor fault: ~2 us a page
on the development machine, 1.8 ms of a 7 ms candidate (``benchmarks/bench_prepare.py``).
:func:`keep_freed_memory` raises the mmap threshold to glibc's ceiling (32 MiB on 64-bit)
and the heap's trim threshold, so blocks below 32 MiB come from the heap and go back to it:
the next candidate reuses pages already mapped. The process keeps its high-water mark of
such blocks (tens of MB); larger blocks (16384-channel windows) are still mapped and
unmapped. Nothing else changes: it is a tuning of *when* memory goes back to the kernel.

The CLI calls it at start-up (every verb prepares, searches or scores in batches); the
library leaves the process's allocator alone unless asked.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

#: glibc's ``mallopt`` parameter numbers (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3

#: Blocks at least this large are still mapped on their own (glibc's ceiling on 64-bit).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of the heap beyond this is returned to the kernel.
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module); True when both were set, False
    where the C library is not glibc (other platforms, musl) and nothing changed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl's mallopt is a stub)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
