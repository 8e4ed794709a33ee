"""keep_freed_memory: freed blocks below glibc's mmap ceiling are reused, not page-faulted."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from frbtriage.allocator import keep_freed_memory

#: Run in a fresh interpreter: how a block is served depends on what the process freed before
#: (a heap that already holds free memory serves from it whatever the thresholds), so the
#: test's own process, after other tests, cannot show the "before" side.
SCRIPT = r"""
import ctypes, resource, numpy as np
from frbtriage.allocator import MMAP_THRESHOLD, keep_freed_memory

size = 4 << 20  # a 1024-channel candidate's delay table and its offsets, ~ 2 MB each
assert size < MMAP_THRESHOLD

def faults(n=20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.empty(size // 8)
        a.fill(1.0)  # touch every page
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

ctypes.CDLL(None).mallopt(-3, 128 << 10)  # glibc's first threshold, held fixed
fixed = faults()
ok = keep_freed_memory()
np.ones(size // 8).sum()  # the heap grows once
print(fixed, ok, faults(), 20 * (size // 4096))
"""


def _glibc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc only")
def test_fresh_arrays_reuse_freed_pages():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    fixed, ok, kept, pages = int(out[0]), out[1], int(out[2]), int(out[3])
    assert fixed > pages // 2  # with a fixed 128 KiB threshold every block is mapped afresh
    assert ok == "True"
    assert kept < pages // 20


def test_elsewhere_it_changes_nothing(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
