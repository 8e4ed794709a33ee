"""keep_freed_memory: freed blocks below glibc's mmap ceiling are reused, not page-faulted."""

from __future__ import annotations

import ctypes
import resource
import sys

import numpy as np
import pytest

from frbtriage.allocator import MMAP_THRESHOLD, keep_freed_memory


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def _faults_of_fresh_arrays(size: int, n: int = 20) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.empty(size // 8)
        a.fill(1.0)  # touch every page
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(_libc() is None, reason="glibc's malloc only")
def test_fresh_arrays_reuse_freed_pages():
    size = 4 << 20  # a 1024-channel candidate's delay table and its offsets, ~ 2 MB each
    assert size < MMAP_THRESHOLD
    libc = _libc()
    assert libc is not None
    libc.mallopt(-3, 128 << 10)  # glibc's first threshold, held fixed: every block is mapped
    pages = 20 * (size // 4096)
    assert _faults_of_fresh_arrays(size) > pages // 2
    assert keep_freed_memory() is True
    np.ones(size // 8).sum()  # the heap grows once
    assert _faults_of_fresh_arrays(size) < pages // 20


def test_elsewhere_it_changes_nothing(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False
